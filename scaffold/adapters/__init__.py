"""Adapters: the only code that talks to git, copier, kustomize and HTTP."""
