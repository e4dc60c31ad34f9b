# Stands in for a Python without gevent (TestGeventWithoutGeventModule).
raise ImportError("No module named 'gevent'")
