"""``python -m evaluation``: does orchestration pay? Accuracy against cost and latency, per mode.

datasets   the item type, the shipped hand-written set, a user's JSONL file
generator  seeded arithmetic and logic word problems with computed answers
task       the eval as a phase (prompt, schema, judge rules) on the configured roster's models
modes      single:<alias> for each configured model, strategy:<name> for each strategy
runner     every item through every mode: concurrency limit, spending cap, a record per answer
scoring    is an answer right (numbers, yes/no, short text), summary: per-mode aggregates
stats      Wilson interval, mean, nearest-rank percentile
report     the table, the JSON with every raw answer; plot: the PNG
"""
