"""The KPI engine as it was before issue 14, kept as the reference the new engine must equal.

A frozen copy of ``analysis/frames.py``, ``analysis/kpis/evaluation.py`` and
``analysis/build.py`` as they were on main before the engine was rewritten for speed (issue 14),
with only their imports of each other changed. The condition evaluator was not rewritten: both
engines use ``analysis/conditions.py``. ``tests/analysis/test_frames.py`` tests the old loaders
here, which the product no longer has.
``tests/analysis/test_engine_equivalence.py`` builds the same reports with both and compares
their JSON. Do not "fix" this code: it is the yardstick, slow on purpose.
"""
