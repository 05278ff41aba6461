"""Reading uploaded gold and prediction files into validated tables (SPEC §3).

Both kinds of file come as CSV, JSON Lines or JSON, each optionally gzip-compressed, with column
names matched case-insensitively through the alias tables of `gold` and `predictions`. Every
problem found is reported with its place in the file (CSV row, JSONL line, JSON item) so that the
person who uploaded it can fix it. Gold answers and question texts never appear in a message: a
benchmark's gold may be private, and admins' files are validated by the same code.

Harness logs (Inspect AI, Every Eval Ever, lm-evaluation-harness, lighteval, HELM) are read by
`logs/` into the same tables, which are then validated as a CSV file is.

Modules, each building on the ones before: `errors` (FileRejected, message helpers), `raw`
(bytes, size limits, gzip), `tables` (CSV, JSON Lines, JSON), `cells` (cells and columns),
`logs/` (harness logs), `gold` (read_gold) and `predictions` (read_predictions, runs). This
file imports none of them: import what you need from its module.
"""
