// Package experiment runs the paper's miniature comparison: ELECTRA's
// replaced token detection against BERT-style masked language modelling at
// equal pre-training compute, each fine-tuned on the same downstream task,
// over several seeds.
package experiment
