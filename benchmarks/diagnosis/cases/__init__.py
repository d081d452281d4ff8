"""Cases of the diagnosis benchmark: buggy Keras programs ported from public, externally labelled
sources, and healthy programs. One module per case, `benchmarks/diagnosis/cases/<name>.py`.

The interface (fixed; `benchmarks/diagnosis/run.py` reads exactly these names):

```python
SOURCE = "DeepFD benchmark case 31 (Stack Overflow question 48251943)"  # where it comes from
URL = "https://stackoverflow.com/questions/48251943"                      # the public source
FIX = "what the accepted fix / correct version changes"                  # "" for healthy cases
MECHANISM = "why training fails, in one or two sentences"                 # healthy: why it is healthy
                                                                          # and what is awkward about it
HEALTHY = False
EXPECTED = [{"kind": "nan_inf", "layer": "dense_2"}]  # causes a correct diagnosis names;
                                                      # layer None = run-wide / any layer; [] if healthy
ACCEPTABLE = ["exploding_gradient"]                   # cause kinds that are consequences, not false alarms

def run(run_dir: str, callbacks: list) -> None:
    # synthetic data shaped like the original (numpy, seeded; no downloads), the model with an
    # explicit `name=` on every layer, then
    # model.fit(..., callbacks=callbacks, verbose=0)    -- under ~30 s on 2 CPU cores
```

Rules:
- `run` receives the callbacks to pass to `fit` (the runner's `GradCauseCallback(run_dir)` and its
  own loss/step recorder); pass them unchanged and train with `verbose=0`. `run_dir` is where
  the run is written (a case normally does not need it).
- Start with `rng = _common.start(seed)` (clears the Keras session, seeds everything, returns a
  numpy Generator). A case that changes global state (e.g. the mixed-precision policy) restores it.
- Labels (`EXPECTED`, `ACCEPTABLE`, `HEALTHY`) come from the source (its accepted fix, its
  benchmark's label), written before the tool is run on the case, and never edited to match
  the tool's output.
- File names say where a case comes from: `deepfd_*`, `autotrainer_*`, `deeplocalize_*`, `so_*`,
  `se_*` (other Stack Exchange sites), `gh_*`, `defect4ml_*` for buggy cases, `healthy_*` for healthy ones. Modules starting with `_`
  are not cases.
"""
