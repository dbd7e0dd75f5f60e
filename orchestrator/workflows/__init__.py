"""Workflows made of whole runs: ``verify`` prepares and executes a run again from nothing in a
scratch storage and compares its images with the recorded ones. The top layer below the CLI:
it calls execution, never the other way round.
"""
