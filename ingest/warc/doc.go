// Package warc reads WARC files (ISO 28500: WARC/1.0 and 1.1 as written by
// CommonCrawl and wget, and the older WARC/0.18 of ClueWeb09) as a stream
// of records, plain or gzip-compressed (one member for the whole file or one
// member per record), with LF or CRLF line endings.
//
// The reader never holds more than one record in memory. Damage is reported
// as an *Error for the record or stretch of input it spoiled, and reading
// continues at the next record the input still lets us find: the next gzip
// member after a corrupt one, the next "WARC/" version line after a wrong
// Content-Length or a garbled header.
package warc
