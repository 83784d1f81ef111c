"""CTC sweeps, BD-rate, reports and benchmarks of hm-cnn-loop."""
