#!/usr/bin/env python3
"""Writes the hand-built fixtures beside it, deterministically:

clueweb09-sample.warc.gz  ClueWeb09 layout: WARC/0.18, LF line ends, one gzip
                          member for the whole file, WARC-TREC-ID, the empty
                          WARC-Identified-Payload-Type field and the
                          impossible WARC-Date values the real files carry.
cc-sample.warc.wet.gz     CommonCrawl WET layout: WARC/1.0, CRLF, one gzip
                          member per record, warcinfo then conversion records
                          with WARC-Identified-Content-Language (ISO 639-3).
cc-sample.warc.gz         CommonCrawl WARC layout: request/response/metadata
                          triples, per-record gzip, payload encodings renamed
                          to X-Crawler-* as CommonCrawl does.
Run it from anywhere; commit its output with it.
"""
import gzip, io, os

here = os.path.dirname(os.path.abspath(__file__))

def record(version, fields, block, nl):
    head = version + nl + "".join(f"{k}: {v}{nl}" for k, v in fields)
    head += f"Content-Length: {len(block)}{nl}{nl}"
    return head.encode() + block + (nl + nl).encode()

def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as f:
        f.write(data)
    return buf.getvalue()

def http(status, headers, body, nl="\r\n"):
    return (f"HTTP/1.1 {status}{nl}" + "".join(f"{k}: {v}{nl}" for k, v in headers) + nl).encode() + body

LIGHT = """<html><head><title>Keepers of the Light</title></head>
<body><div id="menu"><ul><li><a href="/">Home</a></li></ul></div>
<h1>Keepers of the Light</h1>
<p>For two hundred years the keepers climbed the stairs every evening at dusk. They trimmed the wicks, wound the clockwork that turned the lens, and wrote the weather in a log before midnight.</p>
<p>The work was lonely but never idle. Storms broke windows, fog demanded the horn, and the supply boat could be weeks late in winter. Many keepers raised families on the rocks, and their children learned to read by lamplight.</p>
<footer>Site map | Contact</footer>
</body></html>
"""

STUB = "<html><body><p>Under construction.</p></body></html>\n"

def clueweb():
    nl = "\n"
    info = ("software: Nutch 1.0-dev (modified for clueweb09)\nisPartOf: clueweb09-en\n"
            "description: clueweb09 crawl with WARC output\nformat: WARC file version 0.18\n"
            "conformsTo: http://www.archive.org/documents/WarcFileFormat-0.18.html\n").encode()
    out = record("WARC/0.18", [("WARC-Type", "warcinfo"), ("WARC-Date", "2009-03-65T08:43:19-0800"),
                               ("WARC-Record-ID", "<urn:uuid:993d3969-9643-4934-b1c6-68d4dbe55b83>"),
                               ("Content-Type", "application/warc-fields")], info, nl)
    docs = [
        ("clueweb09-en0000-00-00000", "http://keepers.example.org/history.html", "67f7cabd-146c-41cf-bd01-04f5fa7d5229",
         http("200 OK", [("Content-Type", "text/html"), ("Date", "Tue, 13 Jan 2009 18:05:10 GMT"), ("Server", "Apache")], LIGHT.encode(), nl)),
        ("clueweb09-en0000-00-00001", "http://stub.example.org/", "5e0bd3a4-2d2e-4a8b-9d71-0ad02b64a1f4",
         http("200 OK", [("Content-Type", "text/html; charset=ISO-8859-1")], STUB.encode(), nl)),
        ("clueweb09-en0000-00-00002", "http://files.example.org/report.pdf", "1f2a1c36-5d51-4f43-b6a4-7b6a2d0d0c11",
         http("200 OK", [("Content-Type", "application/pdf")], b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", nl)),
    ]
    for trec, uri, uid, block in docs:
        out += record("WARC/0.18", [("WARC-Type", "response"), ("WARC-Target-URI", uri),
                                    ("WARC-Warcinfo-ID", "993d3969-9643-4934-b1c6-68d4dbe55b83"),
                                    ("WARC-Date", "2009-03-65T08:43:19-0800"),
                                    ("WARC-Record-ID", f"<urn:uuid:{uid}>"), ("WARC-TREC-ID", trec),
                                    ("Content-Type", "application/http;msgtype=response"),
                                    ("WARC-Identified-Payload-Type", "")], block, nl)
    open(os.path.join(here, "clueweb09-sample.warc.gz"), "wb").write(gz(out))

WET_EN = ("Tide Tables for Small Harbours\n"
          "A tide table lists the times and heights of high and low water for each day of the year. "
          "Harbour masters print them every winter so that skippers can plan when to leave and when to return.\n"
          "The tables are computed from the motion of the Moon and the Sun. Local effects, such as the shape of the bay "
          "and the wind, can move the real tide by several minutes, so experienced sailors always leave a margin.\n"
          "Dr. Smith of the U.S. survey office checked the figures against gauges in twelve ports.\n")
WET_FR = ("Les phares de Bretagne\n"
          "La Bretagne compte plus de cent phares. Certains sont construits en pleine mer, sur des rochers battus "
          "par les vagues, et leurs gardiens y vivaient des semaines entières sans voir la terre. "
          "Aujourd'hui tous les phares sont automatisés, mais les anciens gardiens racontent encore leurs tempêtes.\n")
WET_NOLANG = ("Harbour Society Minutes\n"
              "The society met on the first Monday of the month in the old customs house. Twenty members attended. "
              "The treasurer reported that the roof of the boat shed had been repaired before the autumn gales, and that "
              "the accounts for the regatta were settled. The next meeting will discuss the restoration of the signal mast.\n")

def wet():
    nl = "\r\n"
    info = ("Software-Info: ia-web-commons.1.1.10-SNAPSHOT-20240513102354\r\n"
            "Extracted-Date: Sun, 26 May 2024 01:14:51 GMT\r\nrobots: checked via crawler-commons 1.5-SNAPSHOT\r\n"
            "isPartOf: CC-MAIN-2024-22\r\noperator: Common Crawl Admin (info@commoncrawl.org)\r\n"
            "description: Wide crawl of the web for May 2024\r\npublisher: Common Crawl\r\n").encode()
    members = [record("WARC/1.0", [("WARC-Type", "warcinfo"), ("WARC-Date", "2024-05-26T01:14:51Z"),
                                   ("WARC-Filename", "CC-MAIN-20240517233122-20240518023122-00000.warc.wet.gz"),
                                   ("WARC-Record-ID", "<urn:uuid:0b8d8b7a-7d63-4c5e-9a8a-3a6f1d2c9e01>"),
                                   ("Content-Type", "application/warc-fields")], info, nl)]
    docs = [("http://tides.example.com/tables", "7c3f4b7e-2a0e-4d1e-8c55-1b7d1e0f6a10", "eng", WET_EN),
            ("http://phares.example.fr/bretagne", "a1c9e3d2-6b4f-4f0a-9e2d-5c8b7a6f4e21", "fra,eng", WET_FR),
            ("http://society.example.net/minutes", "c4d2e1f0-9a8b-4c7d-8e6f-5a4b3c2d1e32", None, WET_NOLANG),
            ("http://stub.example.com/", "e5f6a7b8-1c2d-4e3f-9a0b-6c7d8e9f0a43", "eng", "Home\nLogin\n")]
    for uri, uid, lang, text in docs:
        fields = [("WARC-Type", "conversion"), ("WARC-Target-URI", uri), ("WARC-Date", "2024-05-18T00:41:12Z"),
                  ("WARC-Record-ID", f"<urn:uuid:{uid}>"),
                  ("WARC-Refers-To", "<urn:uuid:00000000-0000-4000-8000-000000000000>"),
                  ("WARC-Block-Digest", "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
        if lang:
            fields.append(("WARC-Identified-Content-Language", lang))
        fields.append(("Content-Type", "text/plain"))
        members.append(record("WARC/1.0", fields, text.encode(), nl))
    open(os.path.join(here, "cc-sample.warc.wet.gz"), "wb").write(b"".join(gz(m) for m in members))

CC_PAGE = """<!doctype html>
<html lang="en"><head><meta name="viewport" content="width=device-width">
<title>Signal Flags</title><script src="/app.js"></script></head>
<body><header><a href="/">Maritime Signals</a></header>
<main><h1>Signal Flags</h1>
<p>Ships at sea once spoke to each other with flags. Each flag stands for a letter, and a single flag flown alone carries a message of its own: the yellow flag asks for a health inspection, and the blue and white flag warns that a diver is down.</p>
<p>Signal books translated groups of flags into whole sentences, so a captain could ask for a pilot or report a fire with four flags on one halyard. Radio replaced most of this work, but every sailor still learns the code.</p>
</main><footer>&copy; Maritime Signals</footer></body></html>
"""

def ccwarc():
    nl = "\r\n"
    members = [record("WARC/1.0", [("WARC-Type", "warcinfo"), ("WARC-Date", "2024-05-17T23:31:22Z"),
                                   ("WARC-Filename", "CC-MAIN-20240517233122-20240518023122-00000.warc.gz"),
                                   ("WARC-Record-ID", "<urn:uuid:11111111-2222-4333-8444-555555555555>"),
                                   ("Content-Type", "application/warc-fields")],
                   b"isPartOf: CC-MAIN-2024-22\r\npublisher: Common Crawl\r\n", nl)]
    pages = [
        ("https://signals.example.org/flags", "3d1f0e2c-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
         http("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("X-Crawler-Content-Encoding", "gzip"),
                         ("Content-Length", str(len(CC_PAGE.encode())))], CC_PAGE.encode())),
        ("https://signals.example.org/old", "4e2a1f3d-5c6b-4d7e-9f80-a1b2c3d4e5f6",
         http("301 Moved Permanently", [("Location", "https://signals.example.org/flags"), ("Content-Type", "text/html")],
              b"<html><body>Moved</body></html>")),
        ("https://signals.example.org/flag.png", "5f3b2a4e-6d7c-4e8f-a091-b2c3d4e5f607",
         http("200 OK", [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")),
        ("https://signals.example.org/broken", "6a4c3b5f-7e8d-4f90-b1a2-c3d4e5f60718",
         http("200 OK", [("Content-Type", "text/html")], b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x00\x01\x02\x03" * 20)),
    ]
    for uri, uid, block in pages:
        req = (f"GET {uri.split('example.org',1)[1]} HTTP/1.1\r\nHost: signals.example.org\r\nUser-Agent: CCBot/2.0\r\n\r\n").encode()
        members.append(record("WARC/1.0", [("WARC-Type", "request"), ("WARC-Date", "2024-05-18T00:41:12Z"),
                                           ("WARC-Record-ID", f"<urn:uuid:{uid[:-4]}0000>"), ("Content-Type", "application/http; msgtype=request"),
                                           ("WARC-Target-URI", uri)], req, nl))
        members.append(record("WARC/1.0", [("WARC-Type", "response"), ("WARC-Date", "2024-05-18T00:41:12Z"),
                                           ("WARC-Record-ID", f"<urn:uuid:{uid}>"), ("Content-Type", "application/http; msgtype=response"),
                                           ("WARC-Target-URI", uri), ("WARC-Identified-Payload-Type", "text/html")], block, nl))
        members.append(record("WARC/1.0", [("WARC-Type", "metadata"), ("WARC-Date", "2024-05-18T00:41:12Z"),
                                           ("WARC-Record-ID", f"<urn:uuid:{uid[:-4]}ffff>"), ("Content-Type", "application/warc-fields"),
                                           ("WARC-Target-URI", uri)], b"fetchTimeMs: 112\r\n", nl))
    open(os.path.join(here, "cc-sample.warc.gz"), "wb").write(b"".join(gz(m) for m in members))

clueweb(); wet(); ccwarc()
