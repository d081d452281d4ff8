"""One module per cause kind; each exposes `CAUSE_KIND`, `REQUIRES` and `detect(run)`."""
