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
// one core for the stage): see "Where it stands" below for the current
// figures. An earlier state: WordPiece alone tokenized 29-31M tokens per
// CPU-second on a quiet machine; a stage from documents in a topic to
// acknowledged example batches did 19-21M, a ratio of 0.67-0.69 in the
// medians of make bench's five runs (single runs 0.57-0.73; the goal is
// 0.70). That was not repeated since: on 2026-12-05 make bench printed
// medians of 0.48-0.74 within an hour, 0.59 (0.58-0.62) in its fastest
// phase (WordPiece alone 31-33M), with best-of-five ratios of 0.54-0.67.
// Of the stage's CPU (eight runs, before the LZ4 change below):
// WordPiece 70%, Arrow IPC and LZ4 13% (token-id LZ4 9%), kafka-go 8%
// (fetch round trips 5%, producing 3%), JSON decoding 4%, packing 3%,
// system calls 4% (most of them socket reads and writes, counted within
// the above). WordPiece runs slower per token in the stage than alone on
// the same text (3-5% as measured then; 9-11% profiled in one process,
// below): the rest of the stage's memory traffic, about 200 KiB
// per document, evicts its tables from the core's caches (alone, 200 KiB
// of other memory between documents costs it as much). On a loaded machine
// (other tenants' load moves the tokenizer-alone figure by 20% or more
// within a minute) the medians fall to 0.55-0.66.
//
// Where it stands (2026-12-07, after the changes below): four runs of the
// transform benchmark printed medians of 0.73, 0.71, 0.71 and 0.71 (single
// steady runs 0.62-0.73, best-of-five 0.71-0.73), WordPiece alone at
// 36M tokens per CPU-second and the stage at 26M; the steps in sequence
// reach 0.81 of WordPiece alone, Stage.Run in memory 0.79.
//
// How the stage's CPU was measured for these changes
// (scripts/stageprofile.sh): perf at 4 kHz over the benchmark process,
// only the samples inside the timed runs (-transform.timedwindows prints
// each run's CLOCK_MONOTONIC bounds; perf record -k CLOCK_MONOTONIC), each
// sample put in one part by its call stack. With
// 6,000-13,000 samples a part's share is good to about 0.3 points, where
// end-to-end ratios of single runs swing by 3-5. After the changes:
// WordPiece 72% (the per-line call into it 1% more, as alone), token-id
// LZ4 7.6%, the Kafka input 4.3% (the kernel's copy of responses 2%),
// JSON decoding 3%, packing 3%, laying out the batch columns 2.1%, the
// rest of encoding 1.8% (pierrec's LZ4 of the doc ids 0.6%, the segment
// ids' run LZ4 0.5%), producing 2% (the kernel's copy 0.8%), scheduling
// and signals 0.7%, shuffling 0.5%, kafka-go's group protocol 0.4%,
// garbage collection 0.3%.
//
// What moved it (2026-12-07), each measured that way or with
// BenchmarkStageParts in interleaved pairs:
//   - Data read while it is in the caches. The Kafka input checked each
//     record batch's CRC-32C once the whole response (2-3 MB) was in, by
//     then out of L2: 6 GB/s against 30 GB/s from the caches, 1.4% of the
//     stage. broker.FetchConn now reads 128 KiB at a time and checks each
//     batch as its bytes arrive: 0.4% (512 KiB reads: 0.6%). KafkaOutput
//     takes each message's CRC right after encoding it and
//     broker.ProduceConn folds it into the batch's (GF(2) arithmetic, a
//     microsecond): 0.7% to 0.3%. (The microbenchmark below that found
//     0.1% for the fetch side had its data in the cache.)
//   - Prefetching what the CPU cannot foresee: the shuffled examples'
//     rows eight ahead while laying out a batch (3.1% to 2.1%), and the
//     first lines of the page two ahead in the text scan, since the CPU's
//     own prefetcher stops at 4 KiB pages (decoding 3.5% to 2.9%; a whole
//     page ahead: 3.4%, the prefetches then wait on memory themselves).
//   - Segment ids as slices of one shared run of L 0s and L 1s, not
//     written per example, and tokens copied once into the example:
//     packing 1.30 to 1.20 ns per token, encoding 3.99 to 3.89,
//     Stage.Run in memory 0.766 to 0.776 of WordPiece alone.
//   - The token-id LZ4 copies literal runs of up to 64 bytes with four
//     vector moves (runs of 33-64 bytes had gone through copy, behind a
//     mispredicted branch): 3.43 to 3.22 ns per word.
//   - Lines without escapes are tokenized where they lie in the message;
//     the text was unescaped whole into a scratch buffer before (decoding
//     and splitting 0.975 to 0.94 ns per token).
//
// Tried the same day, no gain: the LZ4 table kept across a frame's blocks
// without clearing (3.4 to 3.9 ns per word: a cleared slot sends the
// verification load to word 0, in L1, a stale one anywhere in the block);
// the second LZ4 pass as a function of its own with fewer live values, and
// the match's end from one 8-byte compare (neither moved it: the loop is
// bound by instructions and mispredictions, ~36 cycles a sequence); 32K-
// and 16K-entry tables (5% and 8% faster for 0.8% and 2.2% less
// compression: not taken); prefetching a whole document before decoding
// it (decoding fell 1.2 points, the prefetch loop took 1.0); prefetching
// the arena's next page for writing (0.2 points, within the spread);
// reading the trie through after each written chunk, to have it back in
// L2 (within the spread); 128 KiB reads without checking as they arrive
// (no change); transparent huge pages for the whole heap (the stage's CPU
// did not move); appending examples field by field (perf showed a store
// forwarding stall on the Example built on the stack; removing it left
// packing's time as it was: its cost is the first touch of cold memory);
// writing the segment ids' LZ4 frame from each example's shape (0s, then
// 1s) without laying the column out or scanning it, byte for byte the
// frame runCompressor writes (checking the shapes and emitting from the
// runs cost what the layout and the scan had, 7% of encoding either way).
//
// Before that (2026-12-06, night, with examples produced by
// broker.ProduceConn, below): make bench printed a median of 0.69
// (0.68-0.69, best-of-five 0.68) and the transform benchmark alone,
// later, 0.68 (0.62-0.72, best-of 0.69), with WordPiece alone at 36M
// tokens per CPU-second and the stage at 24.8M; the steps in sequence
// reach 0.79 of WordPiece alone and Stage.Run in memory 0.76-0.77. The
// stage's CPU in those profiles: WordPiece 68-70%, Arrow IPC and LZ4
// 14-15%, the Kafka client 7-8%, JSON decoding 3%, packing 3-6%.
//
// Before that (2026-12-06, evening, with records read in place and the
// faster token-id LZ4, below): five runs of the transform benchmark
// within an hour printed medians of 0.70, 0.65, 0.66, 0.67 and 0.64
// (single steady runs 0.58-0.75), best-of-five ratios 0.71, 0.69, 0.67,
// 0.67 and 0.67, with WordPiece alone at 33-36M tokens per CPU-second. The stage's CPU: WordPiece 71%,
// Arrow IPC and LZ4 12-14%, the Kafka client 8-9% (most of it the kernel's
// loopback TCP work, charged to the stage's reads and writes), JSON
// decoding 2-3%, packing 2-4%. WordPiece alone would reach 0.71 if it ran
// in the stage as fast as alone; timing the tokenizer's calls inside the
// stage (wall clock per document) put it 2-7% slower there.
//
// What made the difference (2026-12-05, 0.60 to 0.68): page faults. A
// kafka.Reader allocates every message value afresh, so a worker turned
// over half its allocations in large objects whose pages the runtime's
// scavenger gave back to the kernel between collections and faulted in
// again: 7-14K faults and 40-130 ms of system time per timed run. Fetching
// with kafka-go's Client and copying values into recycled buffers
// (KafkaInput, Recycler), token buffers in size classes, and a warm-up
// that fills the free lists brought that to a few hundred faults and 12-40
// ms. GODEBUG=madvdontneed=0 had the same effect but can only be set in
// the environment; GOGC=off with a memory limit did not (the heap grows
// to the limit, faulting all the way).
//
// The faults that were left (2026-12-06, later): 1,250-2,400 per timed
// run, whatever GOGC (100, 200, 400), from buffers allocated afresh in
// the run (record buffers and token buffers beyond the free lists, the
// decoder's scratch, packing arenas, kafka-go's pages) onto pages the
// scavenger had handed back; the run allocates only ~6 MB, a fault per 4
// KiB page. So `electra transform` and `electra run` now execute
// themselves with GODEBUG=madvdontneed=0 (cmd/electra/madvfree_linux.go)
// and make bench runs the stage the same way: in eight interleaved pairs
// of runs, 37-104 faults instead of 1,540-2,340, system time 37 ms
// instead of 55 ms (means), mean ratio 0.62 instead of 0.60 on a machine
// whose tokenizer-alone figure moved by up to 45% within a run.
//
// Where the stage waits (an execution trace of a timed run,
// -transform.timedtrace): nowhere in its steady state. The one core is
// busy from the first fetches to the last chunk; the waits are joining
// the group (~50 ms of wall clock, ~17 ms of CPU) and the last chunk's
// idle seal. The tokenizer goroutine blocks about 20 times per run, so it
// tokenizes ~75 documents at a stretch: the rest of the stage's memory
// traffic comes between stretches, not between documents. The broker's
// process used ~10% of the other CPU. Neither GOMAXPROCS 2 (one
// tokenizer goroutine, the rest free to run on the other core) nor
// timing eight repetitions of the corpus instead of four (start-up spread
// thinner) moved the ratio beyond the spread (five or six runs each).
//
// Queue depth (2026-12-06, later). The stage queued 64 records per
// tokenizer: the reader copied a burst of them (~2 MB of values) and the
// tokenizer filled as many token buffers before the assembler read them
// back, more than the core's 1 MiB L2 holds. At 8 per tokenizer, Stage.Run
// over documents in memory (BenchmarkStageParts/run) reached 0.74 of
// WordPiece alone against 0.72 at 64 (five interleaved rounds; 4: 0.73;
// 2: 0.68, where switching goroutines costs more), so 8 is the default.
// End to end the machine's swings hide a change this size (an earlier
// test of 2 to 8 showed nothing; so did this session's pairs). A copying
// loop over 16 MiB buffers on the other CPU did not lower Stage.Run's
// ratio (0.74 both ways, four alternations), so another core's cache
// traffic is not what makes the end-to-end stage slower than the same
// stage in memory; nor are idle stretches that would hand the core to
// other tenants: traces of three more timed runs show none from a tenth
// to three fifths of the way through in two, 32 ms in the third.
//
// Token-id LZ4 without mispredictions (2026-12-05, later): a quarter of
// the positions of a token id column start a repeated pair of ids, at
// random, so a search that branches at each lookup mispredicts at most
// matches. schemas' int32Compressor now marks the repeats in bit masks
// without a branch and then writes a sequence per set bit: 28% faster on
// real batches (interleaved A/B), 2% smaller. Encoding a batch got 15-20%
// faster (BenchmarkStageParts/encode), the stage's steps in sequence went
// from 0.75-0.78 of WordPiece alone to 0.76-0.80, and in twelve
// interleaved end-to-end runs on a loaded machine the best end-to-end
// figure rose 5% (19.7M to 20.7M tokens per CPU-second) and the mean
// ratio from 0.60 to 0.61.
//
// What this machine charges the stage and not WordPiece alone (2026-12-05,
// later). The benchmark machine is a paravirtualized guest (the kernel's
// pvm_* entry points): there, a page fault costs the faulting process 10.5
// µs of CPU (256 MiB touched page by page), a system call about 1 µs, and
// a 20 µs sleep (the runtime's sysmon) 95 µs. WordPiece alone makes none
// of them. A timed end-to-end run makes 200-2900 faults (2-6% of its CPU,
// varying from run to run with the same code) and spends 25-80 ms in the
// kernel (5-12%); in perf samples of the stage's process, garbage
// collection is about 5%, the scavenger 1-2% and sysmon about 1%. With
// GODEBUG=madvdontneed=0 the faults all but vanish; a warm-up as long as
// the timed run, or a 128 MiB ballast raising the heap goal, did not
// change them beyond the run-to-run spread. Another core copying 64 MiB
// buffers in a loop does not slow WordPiece alone (eight alternations),
// so a broker's memory traffic is not what slows it in the stage.
// Profiled in one process with the passes interleaved (BenchmarkStageParts
// all and run, -cpuprofile), WordPiece takes 9-11% more CPU per token in
// the stage than alone, all of it in the trie walk (trie.longest, 18-29%
// more), the rest of the encoder none: the stage's other memory traffic
// evicts trie slots between words.
//
// A tokenizer-alone figure from the same seconds as the stage's, taken by
// a probe tokenizing a few milliseconds at a time on a thread of its own
// while the stage runs, would be immune to the machine's swings; but with
// no stage at all, pausing 16 ms between slices made WordPiece 5-35%
// slower than running it without pauses (4-10% with a low-priority
// spinner keeping the core busy in the pauses), so such a probe flatters
// the ratio and is not used. Keeping the stage's core busy the same way
// during end-to-end runs made no difference beyond the spread.
//
// The guest's kernel runs page-table isolation without PCID, so every
// system call flushes the TLB; the trie's ~200 4 KiB pages walked again
// after each one looked like a cause. Moving the tries onto 2 MiB
// transparent huge pages (mmap + MADV_HUGEPAGE; the kernel granted them)
// changed neither WordPiece alone nor WordPiece with a getpid between
// lines beyond the spread (a system call costs its own ~1 µs, no refill
// penalty seen), nor the end-to-end figure (15.4M tokens per CPU-second
// with huge pages, 15.1M without, the means of eleven interleaved pairs on
// a noisy machine), so it is not kept (2026-12-06). GOGC=400 against 100,
// six interleaved pairs the same day: 14.2M against 14.0M end to end,
// within the spread.
//
// Where the rest goes (2026-12-06; make bench now prints this breakdown
// from profiles of its timed runs). perf at 2 kHz over four timed
// end-to-end runs, their time windows only: WordPiece 66% of the stage's
// CPU; kafka-go 8% (socket reads 2.7%, writes 1.9%, its copies 1.2%,
// CRC32C 0.7%, page faults 0.7%); token-id LZ4 7%; JSON decoding 4% (the
// byte scan, jsonStop, 58% of it); the rest of encoding 4%; packing 3%;
// copying records out of kafka-go 1.5%; sysmon 1.4%; garbage collection
// 1.3%. WordPiece took 6-12% more samples per token in the stage than in
// the tokenizer-alone runs of the same process. For a ratio of 0.70 the
// part that is not WordPiece has to fall from about 34% of the stage's CPU
// to about 26% (a third less CPU), where no single part is above 8%. Not
// causes: a loop writing every cache line of 0.5-8 MiB, or an ALU
// spinner, on the other CPU did not slow WordPiece alone beyond the
// spread (four alternations each), so load beside the stage, such as the
// broker's, does not explain why WordPiece is slower there; a timed run
// makes about 400 voluntary and 80-280 involuntary context switches, and
// the whole benchmark 151 CPU migrations in 15 s.
//
// Kept since: the JSON scan 32 bytes a step with AVX2 (jsonstop_amd64.s),
// a block's stop and high-byte masks from one load, cut decoding from
// 1.84-2.10 to 1.04-1.09 ns per token in BenchmarkStageParts/decode
// (three interleaved pairs, 2026-12-06), about 2% of the stage's CPU.
//
// Records in place (2026-12-06, evening; mean ratio 0.64 to 0.67 over
// seven interleaved end-to-end pairs, six in favour). KafkaInput fetches
// with broker.FetchConn: Fetch v5 on a connection of its own, the response
// read into a buffer of this package (fetchBuf) and its record batches
// walked in place; each record's value is a slice of that buffer, which
// goes back to a free list once the fetch loop and every record from it
// are done (Recycle). kafka-go's Client decoded each response into 64 KiB
// pages and every value was copied out of them. Reading the benchmark's
// topic alone (BenchmarkKafkaInputAlone) went from 2.0-2.8 to 1.2-1.6 ns
// of CPU per token; checking each batch's CRC-32C, as kafka-go's reader
// does, put back 0.4-0.5 (2.3-2.7 against 1.7-1.8 in later interleaved
// pairs, about 1% of the stage's CPU). Compressed batches (and SASL
// clusters, which FetchConn does not authenticate with) go through
// kafka-go's Client as before, per partition from the first such batch
// on. The first make bench run after it (without the CRC check) printed a
// median of 0.70 (0.67-0.75), best-of 0.71.
//
// Also kept then: the token-id LZ4's first pass as a function of its own
// (inside compress the compiler reloaded four values from the stack on
// every word) and its second pass clearing a pair's two mask bits without
// waiting for the match's end (a rarely taken branch clears more for
// longer matches): 13% faster, the same bytes out, 4.67 to 4.17 ns per
// token in BenchmarkStageParts/encode (three interleaved pairs). Tried:
// computing every candidate's bounds first and emitting sequences in a
// second loop (17% slower: the covered candidates' extensions are the
// long ones); 16K- and 32K-entry tables (7% and 2% faster encoding, 2% and
// 0.8% less compression; Stage.Run in memory did not move beyond its
// spread, so 64K stays); 256 KiB fetches instead of 1 MiB (no change; the
// broker sends whole batches, 2-3 MB as the benchmark's producer writes
// them, whatever the limit).
//
// Examples produced with broker.ProduceConn (2026-12-06, night): KafkaOutput
// writes each partition's batches of a chunk as one Produce v3 request on
// a connection of its own, the encoded values going to the socket from
// the encoder's buffer in one writev; kafka-go's Writer had copied every
// value into its pages, walked them again for the CRC and written them in
// 64 KiB pieces. Write calls per timed run went from ~420 to ~70; over
// eight interleaved end-to-end pairs the stage's tokens per CPU-second
// rose 4.8% (22.6M to 23.7M), the ratio's median by 1-2 points (the
// tokenizer-alone figure moved as much between the pairs); the first
// transform benchmark after it printed a median of 0.69 (0.67-0.73).
// Splitting the Kafka client's cost before it (a throwaway variant of
// the benchmark, six runs each): documents from Kafka with batches encoded
// in memory and dropped reached 0.715 of WordPiece alone where the whole
// stage reached 0.688, and Stage.Run in memory 0.75: reading and
// producing cost about the same.
//
// Tried the same day, no gain: pass 2 of the token-id LZ4 in amd64
// assembly (no stack reloads, no calls, the same bytes out) was 7% slower
// than the compiled Go, so the pass is bound by its loads and branches,
// not by the compiler's spills (0.195 sequences per word, each with
// branches on how long its match and literal run are); a shuffle buffer of 2048
// examples instead of 8192 (six runs each: 0.662 against 0.676, the
// arena's locality is not what costs); batches of 8 documents from the
// producer with 256 KiB fetches (eight interleaved pairs of runs: mean
// ratio 0.664 against 0.671;
// BenchmarkKafkaInputAlone 1.44 against 1.80 ns per token, medians of
// nine, since the kernel then copies into buffers still in the cache:
// but the batching is the producer's, and bounding it by bytes with
// kafka-go would refuse documents over the bound); compressing the IPC
// body straight into the message after room left for its metadata (no
// change in BenchmarkStageParts/encode: the copy it saves is of data in
// L2); CRC-32C of each fetched piece as it arrives rather than of the
// whole response after it (a copy of 2.5 MB plus its CRC took 180 µs
// against 207 µs in a microbenchmark: 0.1% of the stage); 16K-entry
// token-id LZ4 tables (Stage.Run and the steps in sequence unchanged,
// three alternations). Tokenizing into one growing buffer per document,
// as the stage must keep the ids, instead of one reused line buffer makes
// WordPiece alone 2.2% slower (six runs): part of why it runs slower in
// the stage.
//
// Where the rest of a timed run goes, measured rather than guessed
// (2026-12-06, evening; make bench prints these beside the ratio): joining
// the group and the first fetch cost 2-3 ms of CPU (join-cpu-ms), not the
// ~17 ms an execution trace had suggested; after the stage takes its last
// record it spends 17-32 ms (tail-cpu-ms) encoding and producing the
// sink's backlog (up to five chunks), the same with a FlushIdle of 20 ms
// as of 200 ms, so not idle cost. Waiting for the run's end by polling
// Totals every 5 ms was replaced by Stage.WaitTotals: on this guest a
// timer wake-up costs tens of microseconds of CPU (a 20 µs sleep 54-64 µs,
// a round trip between two threads 45-58 µs, about 10 µs per voluntary
// context switch), and a timed run makes 160-640 voluntary switches.
//
// Tried and measured, no gain: LZ4 skip acceleration (at best 3% faster
// for 5% less compression), 16K/32K-entry match tables (23-35% slower;
// with the branch-free search, 4K-32K entries are 3-13% faster for 1-8%
// less compression), loading the tokens of examples a few rows ahead while
// gathering a batch's columns (4% of encoding, within the noise end to
// end), keeping the table across a frame's blocks (stale candidates:
// 35-49% slower), a two-pass LZ4 search that took the candidates from a
// list with a branch apiece (10% slower; int32Compressor's two passes,
// which branch only at true repeats, are 28% faster), looking matches up
// at every other word (25% faster, 12% larger), extending matches two
// words at a time, LIFO reuse of token buffers and arena blocks, 8-byte
// trie slots (+4% for WordPiece alone and in the stage alike), copying
// each sentence once instead of twice in the packer, gathering and
// compressing the id columns a 64 KiB block at a time, scanning JSON
// strings 16 bytes a step (as two words in Go; with SSE2 in assembly it
// was 20% faster per scan, but escapes come every 40-100 bytes, so the
// call costs about as much as the scan), tokenizing on the reader
// goroutine, a read buffer under the fetching Client's connections (one
// under kafka-go's Reader had cut system calls from 8% to 3% of the
// stage's CPU; under the Client, reads per run fall from ~890 to ~320 and
// system time does not move, since kafka-go reads a fetch response
// straight into 64 KiB pages), pinning the stage and
// the broker to CPUs of their own, reading values in place in kafka-go's
// response pages when they lie in one (3% slower: the pages held by queued
// records starve kafka-go's page pool, which allocates afresh).
//
// Also tried 2026-12-06, no gain: a 4 MiB SO_RCVBUF under the
// Transport's connections (those of the fetching Client and of the
// Writers; system time did not move); matching only repeats of three
// words in the token-id LZ4 (encoding 8% faster, the whole message 1.40x
// smaller instead of 1.83x).
//
// Which half of the Kafka path costs the most (2026-12-06, a throwaway
// benchmark, five interleaved runs each): the stage reading from Kafka
// and encoding in memory reached 0.56-0.72 of WordPiece alone; reading
// documents from memory and producing to Kafka, about what the stage
// reaches in memory (0.75-0.95). Profiles of the Kafka-input runs show
// WordPiece, encoding and packing taking the same CPU as in memory; the
// extra is kafka-go's fetch decoding (~5% of the stage's CPU, a fifth of
// it allocating fresh 64 KiB pages) and system time for the socket reads
// (25-50 ms of ~450 ms a run), which profiles do not sample well. A timed
// run allocates only ~10 MB, so garbage collection is not the cause.
//
// Where the overhead comes from (BenchmarkStageParts, printed by make
// bench under the end-to-end ratio): the stage's steps run in sequence on
// one goroutine over documents in memory reach 0.76-0.80 of WordPiece
// alone; Stage.Run, with its goroutines and queues and each document
// copied into a recycled buffer as KafkaInput did then, 0.73-0.74 (0.75-0.76
// with the documents in place, as KafkaInput hands them over since
// 2026-12-06; three interleaved pairs); the Kafka client, and a broker
// sharing the machine's caches and memory, take the rest.
package transform
