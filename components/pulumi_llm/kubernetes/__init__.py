"""Kubernetes building blocks shared by every self-hosting method."""
