"""Reliability and security: load, faults, bad input files and bad HTTP requests (issue 10)."""
