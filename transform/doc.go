// Package transform is the consumer group between documents and examples:
// it tokenizes documents with WordPiece (transform/wordpiece), packs them
// into fixed-length examples exactly as the reference ELECTRA data builder
// does (transform/pack), shuffles them, and publishes Arrow record batches
// (schemas.ExamplesSchemaName) to Kafka or a dataset directory
// (transform/dataset).
//
// Data flow inside a Stage:
//
//	Input.Next ──► N tokenizer goroutines ──► assembler (input order) ──► sink
//	  (bounded queue, futures keep order)     per-partition chunks        Output.Write, then Input.Commit
//
// Delivery. The unit of delivery is a chunk: the examples of a contiguous
// run of records of one partition. A chunk is sealed once it holds
// Config.ShuffleExamples examples (or the input pauses for FlushIdle, or a
// finite input ends), shuffled with a generator seeded by the stage seed
// and the chunk's start, and cut into batches with ids
// "topic/partition/first-last/i". Output.Write returns only when the
// broker has acknowledged every batch and dead letter of the chunk; only
// then is the chunk's last offset committed. Packing draws are seeded per
// document, so a chunk rebuilt after a crash or a rebalance from the
// committed offset is identical, ids included, and consumers drop the
// duplicates by the batch-id header (ReadTopic, Export do).
//
// Idle seals. Where a size-sealed chunk ends follows from its records;
// where an idle-sealed one ends follows from timing, which a replay does
// not repeat (more data may sit behind the pause by then). So before an
// idle-sealed chunk is written, KafkaInput records its last offset as the
// metadata of an offset commit at the chunk's first offset, which the
// group has committed already (chunks are written and committed in order,
// so the ones before it are done); the chunk's own commit clears it. A
// member assigned the partition reads that metadata with the committed
// offset and seals the chunk at the same record, never on idle before it,
// so a crash between the broker's acknowledgement and the commit
// republishes the chunk under the same batch ids. If the generation loses
// the partition before the cut is recorded, neither the chunk nor any
// later chunk of that generation is written: the new owner builds them.
//
// Rebalances. KafkaInput uses kafka-go's ConsumerGroup so that records
// carry their generation: a new generation makes the assembler drop the
// chunks it has not sealed, and chunks are not sealed on idle while the
// generation is being revoked; a partition that goes back to an earlier
// offset restarts its chunk there.
//
// Shuffling trade-off (Config.ShuffleExamples, default 8192 examples): an
// example's batch neighbours come from about ShuffleExamples divided by
// examples-per-document documents of the same partition; memory is
// ShuffleExamples*L*5 bytes per partition in flight (5 MiB at L=128); a
// crash redelivers up to one chunk per partition. Partitions interleave in
// the output topic, so the trainer sees a mix across partitions as well.
//
// Throughput (make bench, scripts/bench.d/transform.sh; 2 shared cores,
// one core for the stage). WordPiece alone tokenizes 21-31M tokens per
// CPU-second (40-60x HuggingFace tokenizers through its Node binding); a
// stage from documents in a topic to acknowledged example batches does
// 11-18M, a ratio of 0.57-0.63 on a quiet machine (median 0.61 in a noisy
// one; the goal is 0.70). Of the stage's CPU (profile of five runs):
// WordPiece 63%, Arrow IPC and LZ4 11% (token-id LZ4 6%, the other
// columns 2%, gathering the columns 3%), kafka-go fetching 6%, JSON
// decoding 5%, packing 4%, GC and allocation 4%, producing 2%. WordPiece
// itself runs 10-17% slower per token inside the stage than alone, on
// the same text: it shares the core's caches with the rest (alone, a 1-4
// MiB sweep of other memory between documents costs it 9-17%). Reaching
// 0.70 needs everything but WordPiece to cost 0.43x of tokenizing instead
// of ~0.65x, about 15 ns a token; each part above is a few percent.
// Tried and measured, no gain: LZ4 skip acceleration (at best 3% faster
// for 5% less compression), 16K/32K-entry match tables (23-35% slower),
// keeping the table across a frame's blocks (stale candidates: 49%
// slower), LIFO reuse of token buffers, 8-byte trie slots (+4% for
// WordPiece alone and in the stage alike), GOGC 200-400 (within the
// machine's noise), copying each sentence once instead of twice in the
// packer, gathering and compressing the id columns a 64 KiB block at a
// time, shallower stage queues (4 instead of 64 records), tokenizing on
// the reader goroutine. A read buffer under kafka-go's connections
// (broker) did help: system calls fell from 8% to 3% of the stage's CPU.
//
// Where the overhead comes from (BenchmarkStageParts, printed by make
// bench under the end-to-end ratio): the stage's steps run in sequence on
// one goroutine over documents in memory reach 0.73-0.76 of WordPiece
// alone; a fresh copy of each document, as a Kafka client hands it out,
// takes that to ~0.69; Stage.Run, with its goroutines and queues, to
// 0.63-0.72; the Kafka client and a broker on the same 2-core machine to
// 0.39-0.74 (single runs within one make bench on 2026-12-04, median
// 0.46; other runs that day 0.49-0.69).
package transform
