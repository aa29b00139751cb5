# Per-op overhead of the gotch build we link: the figure the gotch version
# was chosen by (docs/gotch.md).
go test -run '^$' -bench 'BenchmarkOp' -benchtime 20000x ./trainer/torch/
