"""Shared library of the SageMaker lifecycle automation: the only place business rules live."""
