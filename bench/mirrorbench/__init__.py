"""Issue 19's mirror benchmark in pieces; bench/mirror_pull.py runs it."""
