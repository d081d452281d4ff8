"""One module per cause kind; each exposes `KIND`, `REQUIRES` and `detect(run)`."""
