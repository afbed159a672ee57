"""Citadel's Locust load suites (``locustfile.py``) and their runner (``python -m loadtests``)."""
