"""The analysis scripts of the repository's analysis/ directory, importable as `dmm.analysis.<module>`:
`results` (results directory -> DataFrames), `plot_run` (one run's plots), `compare_runs` (several runs or a sweep).
The build copies them here from analysis/; edit them there."""
