// Package metrics publishes a training run's figures where people look:
// a Prometheus endpoint for dashboards and alerts, TensorBoard event files
// in the run directory (`tensorboard --logdir runs/`), and a PNG of the loss
// curves rewritten at each checkpoint for a glance without any tool.
package metrics
