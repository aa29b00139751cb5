// Package trainer is ELECTRA: the generator, the discriminator, the
// replaced-token-detection objective and the loop that feeds them Arrow
// batches. libtorch is reached only through trainer/torch.
package trainer
