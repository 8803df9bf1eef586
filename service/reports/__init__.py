"""A resident's report from intake to closure: validation, routing by place, category and time, photos, duplicates and
incidents, the triage workflow, contacts, feedback, retention.
"""
