"""The proximity indicator: response-time clocks, dashboard figures, the in-process store, long views computed ahead,
overlay territories.
"""
