"""Loaded by pytest for every path in the repository (tests/ and the nbval runs of book/).

Notebook kernels inherit this environment: without progress bars and "loaded from cache"
messages the executed outputs match the stored ones whatever the state of the training cache.
"""
import os

os.environ.setdefault("BST_TEACH_PROGRESS", "0")
