"""The rule-engine benchmark: cached demo data, rule workloads, engine adapters, measurement, report.

``bench/bench_engine.py`` is the command line; each module here has one job:

* :mod:`enginebench.data`: generated NDJSON files, cached under ``bench/data/`` by (events, seed);
* :mod:`enginebench.workloads`: the rule sets (seed rule, 50 rules, every active EQL rule);
* :mod:`enginebench.engines`: what runs the rules (eqlite, the JSON floor, plug-ins by name);
* :mod:`enginebench.eqlpkg`: the ``eql`` package (1.0.1) driven as a black box;
* :mod:`enginebench.measure`: one measurement per subprocess, with its peak RSS;
* :mod:`enginebench.report`: best-of-K aggregation, ratios, tables and machine information.
"""
