"""The statistics of rule `stats`: every number the report quotes, as records under stable keys.

registry (the analyses: one record each, light enough for the rule files), records (the
record model, the tables and results.json), checks (the inputs), responders (who responded,
at best and by a landmark), one module per group of analyses (table1, response,
time_to_event, treatment) and run (the rule's entry). What each analysis estimates:
docs/results.md.
"""
