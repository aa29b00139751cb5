package metrics

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestMaskedCRC pins the checksum to CRC-32C's published check value
// (crc32c("123456789") = 0xE3069283) and TFRecord's documented masking.
func TestMaskedCRC(t *testing.T) {
	m := maskedCRC([]byte("123456789"))
	c := m - 0xa282ead8
	unmasked := c>>17 | c<<15
	if unmasked != 0xE3069283 {
		t.Fatalf("unmasked crc = %#x, want 0xE3069283", unmasked)
	}
}

type scalar struct {
	step int64
	tag  string
	v    float32
}

// readEvents parses a TFRecord file with an independent protobuf decoder
// (protowire), checking both CRCs of every record.
func readEvents(t *testing.T, path string) (version string, scalars []scalar) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tab := crc32.MakeTable(crc32.Castagnoli)
	unmask := func(m uint32) uint32 { c := m - 0xa282ead8; return c>>17 | c<<15 }
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("truncated record header (%d bytes left)", len(b))
		}
		n := binary.LittleEndian.Uint64(b[:8])
		if got := unmask(binary.LittleEndian.Uint32(b[8:12])); got != crc32.Checksum(b[:8], tab) {
			t.Fatalf("length crc mismatch")
		}
		data := b[12 : 12+n]
		if got := unmask(binary.LittleEndian.Uint32(b[12+n:])); got != crc32.Checksum(data, tab) {
			t.Fatalf("data crc mismatch")
		}
		b = b[16+n:]
		var step int64
		for len(data) > 0 {
			num, typ, l := protowire.ConsumeTag(data)
			if l < 0 {
				t.Fatalf("bad tag: %v", protowire.ParseError(l))
			}
			data = data[l:]
			switch {
			case num == 1 && typ == protowire.Fixed64Type:
				_, l = protowire.ConsumeFixed64(data)
			case num == 2 && typ == protowire.VarintType:
				var v uint64
				v, l = protowire.ConsumeVarint(data)
				step = int64(v)
			case num == 3 && typ == protowire.BytesType:
				var v []byte
				v, l = protowire.ConsumeBytes(data)
				version = string(v)
			case num == 5 && typ == protowire.BytesType:
				var sum []byte
				sum, l = protowire.ConsumeBytes(data)
				for len(sum) > 0 {
					_, _, tl := protowire.ConsumeTag(sum)
					val, vl := protowire.ConsumeBytes(sum[tl:])
					sum = sum[tl+vl:]
					var s scalar
					s.step = step
					for len(val) > 0 {
						fnum, _, fl := protowire.ConsumeTag(val)
						val = val[fl:]
						if fnum == 1 {
							tag, n := protowire.ConsumeBytes(val)
							s.tag, val = string(tag), val[n:]
						} else {
							f, n := protowire.ConsumeFixed32(val)
							s.v, val = math.Float32frombits(f), val[n:]
						}
					}
					scalars = append(scalars, s)
				}
			default:
				t.Fatalf("unexpected field %d type %d", num, typ)
			}
			if l < 0 {
				t.Fatalf("bad field %d: %v", num, protowire.ParseError(l))
			}
			data = data[l:]
		}
	}
	return version, scalars
}

func TestEventWriterScalars(t *testing.T) {
	dir := t.TempDir()
	w, err := NewEventWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(w.Path()), "events.out.tfevents.") {
		t.Fatalf("file name %s: TensorBoard only reads events.out.tfevents.*", w.Path())
	}
	for step := int64(1); step <= 3; step++ {
		if err := w.Scalars(step*10, time.Now(), map[string]float64{"loss": 1 / float64(step), "acc": 0.5 + float64(step)/10}, []string{"loss", "acc"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	version, got := readEvents(t, w.Path())
	if version != "brain.Event:2" {
		t.Fatalf("file_version %q", version)
	}
	want := []scalar{{10, "loss", 1}, {10, "acc", 0.6}, {20, "loss", 0.5}, {20, "acc", 0.7}, {30, "loss", float32(1.0 / 3)}, {30, "acc", 0.8}}
	if len(got) != len(want) {
		t.Fatalf("got %d scalars %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i].step != want[i].step || got[i].tag != want[i].tag || math.Abs(float64(got[i].v-want[i].v)) > 1e-6 {
			t.Errorf("scalar %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// columnY is the mean row of the pixels of colour c in column x of area.
func columnY(img image.Image, area image.Rectangle, x int, c [3]uint8) (float64, bool) {
	var sum, n float64
	for y := area.Min.Y; y < area.Max.Y; y++ {
		r, g, b, _ := img.At(x, y).RGBA()
		if uint8(r>>8) == c[0] && uint8(g>>8) == c[1] && uint8(b>>8) == c[2] {
			sum += float64(y)
			n++
		}
	}
	return sum / max(n, 1), n > 0
}

// TestPlotDrawsCurves decodes the PNG and checks that the falling curve is
// drawn falling, the rising one rising, and the baseline where it belongs.
func TestPlotDrawsCurves(t *testing.T) {
	var fall, rise Series
	fall.Name, rise.Name = "mlm loss", "disc accuracy"
	for i := range 200 {
		x := float64(i * 10)
		fall.X, fall.Y = append(fall.X, x), append(fall.Y, 10*math.Exp(-float64(i)/50))
		rise.X, rise.Y = append(rise.X, x), append(rise.Y, 0.5+0.4*float64(i)/199)
	}
	rise.Baseline, rise.HasBaseline = 0.85, true
	path := filepath.Join(t.TempDir(), "loss.png")
	if err := WritePNG(path, []Series{fall, rise}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != plotWidth || b.Dy() != 2*panelHeight {
		t.Fatalf("image %v, want %dx%d", b, plotWidth, 2*panelHeight)
	}
	for i, tc := range []struct {
		falling bool
	}{{true}, {false}} {
		area := PanelArea(i)
		c := Palette[i]
		rgb := [3]uint8{c.R, c.G, c.B}
		yl, okl := columnY(img, area, area.Min.X+2, rgb)
		yr, okr := columnY(img, area, area.Max.X-3, rgb)
		if !okl || !okr {
			t.Fatalf("panel %d: curve not drawn at both ends", i)
		}
		if tc.falling != (yl < yr) { // image y grows downwards
			t.Errorf("panel %d: left y %.0f right y %.0f, want falling=%v", i, yl, yr, tc.falling)
		}
	}
	// The baseline (0.85 on a 0.5..0.9 axis) sits in the panel's upper
	// part, drawn in its own colour.
	area := PanelArea(1)
	by, ok := columnY(img, area, area.Min.X+1, [3]uint8{colBaseline.R, colBaseline.G, colBaseline.B})
	frac := (float64(area.Max.Y) - by) / float64(area.Dy())
	if !ok || frac < 0.75 || frac > 0.95 {
		t.Errorf("baseline at %.2f of the panel height (found=%v), want about 0.85", frac, ok)
	}
}

func TestPlotEdgeCases(t *testing.T) {
	for _, s := range [][]Series{
		nil,
		{{Name: "empty"}},
		{{Name: "one point", X: []float64{5}, Y: []float64{2}}},
		{{Name: "nan and inf", X: []float64{1, 2, 3, 4}, Y: []float64{math.NaN(), 1, math.Inf(1), 2}}},
		{{Name: "flat", X: []float64{1, 2}, Y: []float64{3, 3}, HasBaseline: true, Baseline: 3}},
	} {
		img := Render(s)
		if img.Bounds().Dy() == 0 {
			t.Errorf("%v: empty image", s)
		}
	}
}

func TestPromEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewProm("test-run")
	addr, err := p.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Observe(Step{Step: 42, Loss: 12.5, MLMLoss: 6.5, DiscLoss: 0.12, DiscAcc: 0.91, Starvation: 0.03, TokensPerS: 1234})
	p.SetLag(1, 77)
	p.Duplicates.Add(2)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no metric %s in\n%s", name, body)
		}
	next:
		for _, m := range f.Metric {
			for k, v := range labels {
				found := false
				for _, lp := range m.Label {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
		t.Fatalf("no %s with %v", name, labels)
		return 0
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"electra_train_step", map[string]string{"run": "test-run"}, 42},
		{"electra_train_loss", map[string]string{"kind": "disc"}, 0.12},
		{"electra_train_loss", map[string]string{"kind": "total"}, 12.5},
		{"electra_train_accuracy", map[string]string{"head": "disc"}, 0.91},
		{"electra_train_starvation_ratio", nil, 0.03},
		{"electra_train_tokens_per_second", nil, 1234},
		{"electra_train_consumer_lag", map[string]string{"partition": "1"}, 77},
		{"electra_train_duplicate_batches_total", nil, 2},
	} {
		if got := value(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// TestRecorder: a long run keeps bounded history, and a checkpoint leaves
// a readable plot and event file behind.
func TestRecorder(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRecorder(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(1); s <= 3*maxHistory; s++ {
		if err := r.Observe(Step{Step: s, MLMLoss: 10 / float64(s), DiscLoss: 0.5, DiscAcc: 0.9, ReplacedFrac: 0.12}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.Series()[0].X); n > maxHistory || n < maxHistory/4 {
		t.Fatalf("history holds %d points, want <= %d and not starved", n, maxHistory)
	}
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(r.PlotPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
	_, sc := readEvents(t, r.EventsPath())
	if len(sc) != 3*maxHistory*len(scalarOrder) {
		t.Fatalf("%d scalars in the event file, want %d", len(sc), 3*maxHistory*len(scalarOrder))
	}
	last, acc, base, err := r.Summary()
	if err != nil || last.Step != 3*maxHistory || math.Abs(base-0.88) > 1e-9 || math.Abs(acc-0.9) > 1e-9 {
		t.Fatalf("summary %+v acc %v baseline %v err %v", last, acc, base, err)
	}
	// Replaced fraction 0.12: base-rate entropy 0.3669 nats.
	if disc, prior := r.BCE(); disc != 0.5 || math.Abs(prior-0.36692) > 1e-4 {
		t.Fatalf("BCE = %v vs prior %v, want 0.5 vs 0.3669", disc, prior)
	}
}
