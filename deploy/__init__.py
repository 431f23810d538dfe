"""Serving MNIST Studio from several app processes: the nginx configuration and its writer."""
