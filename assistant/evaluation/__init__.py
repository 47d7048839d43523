"""The evaluation tool: grade retrieval, answers, citations and refusals on a question set.

A room of small modules: ``questions`` (the set), ``split`` (tune/report halves), ``metrics``
(pure functions), ``grading`` (per-question records), ``figures`` (aggregates), ``curve`` (the
strictness trade-off), ``result`` (a run), ``run`` (the driver over the services), ``corpus`` (an
index of its own for ``--corpus``), ``gates`` (thresholds, baseline), ``report`` and ``charts``.
"""
