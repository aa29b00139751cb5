// Package transform is the consumer group between documents and examples:
// it tokenizes documents with WordPiece, packs them into fixed-length
// examples exactly as the reference ELECTRA data builder does, and publishes
// Arrow record batches.
package transform
