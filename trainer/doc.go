// Package trainer is ELECTRA (Clark et al., 2020): the generator, the
// discriminator, the replaced-token-detection objective, the optimizer and
// the loop that feeds them batches. libtorch is reached only through
// trainer/torch; data arrives through the Source interface (trainer/dataset
// reads Arrow dataset directories, a Kafka source plugs in the same way).
//
// Reading order, like the paper: config.go (presets tiny/small/base/large),
// embeddings.go, attention.go, layer.go (one post-LN encoder block),
// encoder.go, generator.go, discriminator.go, model.go; then masking.go,
// objective.go (mask -> generator -> sample -> discriminator -> loss, top to
// bottom in one function), optimizer.go, schedule.go, checkpoint.go,
// train.go.
//
// # Parameter names
//
// Parameters are named as in HuggingFace transformers' ELECTRA, behind a
// "discriminator." or "generator." prefix (Param.Name). Model.
// DiscriminatorParameters and Model.GeneratorParameters strip the prefix
// and return exactly the state-dict keys of ElectraForPreTraining and
// ElectraForMaskedLM (weights [out, in] as in torch.nn.Linear):
//
//	electra.embeddings.{word,position,token_type}_embeddings.weight   shared
//	electra.embeddings.LayerNorm.{weight,bias}                         shared
//	electra.embeddings_project.{weight,bias}          when embedding_size != hidden_size
//	electra.encoder.layer.N.attention.self.{query,key,value}.{weight,bias}
//	electra.encoder.layer.N.attention.output.dense.{weight,bias}
//	electra.encoder.layer.N.attention.output.LayerNorm.{weight,bias}
//	electra.encoder.layer.N.intermediate.dense.{weight,bias}
//	electra.encoder.layer.N.output.dense.{weight,bias}
//	electra.encoder.layer.N.output.LayerNorm.{weight,bias}
//	discriminator_predictions.dense.{weight,bias}                  discriminator
//	discriminator_predictions.dense_prediction.{weight,bias}       discriminator
//	generator_predictions.dense.{weight,bias}                      generator
//	generator_predictions.LayerNorm.{weight,bias}                  generator
//	generator_lm_head.weight   = electra.embeddings.word_embeddings.weight (tied)
//	generator_lm_head.bias                                         generator
//
// The shared embedding tensors are stored once (under the discriminator's
// prefix) and appear in both lists. Word embeddings have no padding_idx
// (as in the TF reference), so row 0 does receive gradient.
//
// # Differences from the TF reference, on purpose
//
// Masked positions are drawn without replacement (the reference draws with
// replacement and may pick a position twice), so n = max(1,
// min(max_predictions, round(mask_prob*length))) is exact. Everything else
// (85/15 with no random tokens, Gumbel-max sampling at temperature 1,
// sample == original labelled original, BCE over non-pad tokens, loss =
// MLM + 50 disc, Adam without bias correction, decay 0.01 except LayerNorm
// and biases, warmup x linear decay, clip 1.0) follows the reference.
//
// # Ownership
//
// Every tensor a forward pass creates belongs to the torch.Scope passed in
// and is freed when the step closes it; parameters belong to Params,
// moments to Optimizer. All torch work happens on one goroutine that holds
// torch.LockThread.
package trainer
