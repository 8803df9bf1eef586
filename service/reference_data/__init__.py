"""Reference data: categories and outcome codes, real French communes, synthetic demo units."""
