"""SageMaker operations. Each takes a client already bound to the right account; each is safe to repeat."""
