// Package broker is the Kafka plumbing every stage shares: client settings
// (TLS, SASL, transports), topic administration, and the embedded
// Kafka-protocol broker (kfake) used by tests, `electra broker` and
// single-process `electra run`.
package broker
