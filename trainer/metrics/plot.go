package metrics

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Series is one curve: Y against X (the step).
type Series struct {
	Name string
	X, Y []float64
	// Baseline is drawn as a dashed horizontal line when HasBaseline (e.g.
	// the all-original accuracy a discriminator must beat).
	Baseline    float64
	HasBaseline bool
}

// Plot sizes, in pixels.
const (
	plotWidth   = 800
	panelHeight = 220
	marginLeft  = 60
	marginRight = 20
	marginTop   = 22
	marginBot   = 22
)

var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colAxis       = color.RGBA{60, 60, 60, 255}
	colGrid       = color.RGBA{225, 225, 225, 255}
	colText       = color.RGBA{30, 30, 30, 255}
	colBaseline   = color.RGBA{200, 60, 60, 255}
	// Palette gives series i the colour Palette[i%len]; exported so tests
	// and readers of the image can tell curves apart.
	Palette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
)

// WritePNG draws each series in its own panel (each with its own y range,
// so a loss near 10 and an accuracy near 0.9 are both readable), stacked
// vertically, and writes the PNG atomically (temp file + rename) so a
// viewer never sees half an image.
func WritePNG(path string, series []Series) error {
	img := Render(series)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plot-*.png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	// CreateTemp makes the file private; a plot is for anyone to look at.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// Render draws the panels into an image.
func Render(series []Series) *image.RGBA {
	n := max(len(series), 1)
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, n*panelHeight))
	fill(img, img.Bounds(), colBackground)
	for i, s := range series {
		panel := image.Rect(0, i*panelHeight, plotWidth, (i+1)*panelHeight)
		drawPanel(img, panel, s, Palette[i%len(Palette)])
	}
	return img
}

// PanelArea is the plotting area of panel i (inside the axes), for tests
// and for anyone post-processing the image.
func PanelArea(i int) image.Rectangle {
	return image.Rect(marginLeft, i*panelHeight+marginTop, plotWidth-marginRight, (i+1)*panelHeight-marginBot)
}

func drawPanel(img *image.RGBA, panel image.Rectangle, s Series, c color.RGBA) {
	area := image.Rect(panel.Min.X+marginLeft, panel.Min.Y+marginTop, panel.Max.X-marginRight, panel.Max.Y-marginBot)
	drawText(img, area.Min.X, panel.Min.Y+6, strings.ToLower(s.Name), c, 2)

	xmin, xmax := bounds(s.X, math.NaN())
	extra := math.NaN()
	if s.HasBaseline {
		extra = s.Baseline
	}
	ymin, ymax := bounds(s.Y, extra)
	if math.IsInf(xmin, 0) { // no finite points: an empty, labelled panel
		xmin, xmax, ymin, ymax = 0, 1, 0, 1
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymin, ymax = ymin-0.5, ymax+0.5
	}
	pad := (ymax - ymin) * 0.05
	ymin, ymax = ymin-pad, ymax+pad

	px := func(x float64) int {
		return area.Min.X + int(math.Round((x-xmin)/(xmax-xmin)*float64(area.Dx()-1)))
	}
	py := func(y float64) int {
		return area.Max.Y - 1 - int(math.Round((y-ymin)/(ymax-ymin)*float64(area.Dy()-1)))
	}

	for k := 0; k <= 4; k++ {
		y := ymin + (ymax-ymin)*float64(k)/4
		yy := py(y)
		hline(img, area.Min.X, area.Max.X-1, yy, colGrid)
		label := formatTick(y)
		drawText(img, area.Min.X-4-textWidth(label, 1), yy-2, label, colText, 1)
		x := xmin + (xmax-xmin)*float64(k)/4
		xx := px(x)
		vline(img, xx, area.Min.Y, area.Max.Y-1, colGrid)
		label = formatTick(x)
		drawText(img, xx-textWidth(label, 1)/2, area.Max.Y+5, label, colText, 1)
	}
	hline(img, area.Min.X, area.Max.X-1, area.Max.Y-1, colAxis)
	vline(img, area.Min.X, area.Min.Y, area.Max.Y-1, colAxis)

	if s.HasBaseline && finite(s.Baseline) {
		yy := py(s.Baseline)
		for x := area.Min.X; x < area.Max.X; x += 8 {
			hline(img, x, min(x+4, area.Max.X-1), yy, colBaseline)
		}
	}

	prevOK := false
	var x0, y0 int
	for i := range min(len(s.X), len(s.Y)) {
		if !finite(s.X[i]) || !finite(s.Y[i]) {
			prevOK = false
			continue
		}
		x1, y1 := px(s.X[i]), py(s.Y[i])
		if prevOK {
			line(img, x0, y0, x1, y1, c)
		} else {
			img.SetRGBA(x1, y1, c)
		}
		x0, y0, prevOK = x1, y1, true
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func bounds(v []float64, extra float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if finite(x) {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if finite(extra) && !math.IsInf(lo, 0) {
		lo, hi = min(lo, extra), max(hi, extra)
	}
	return lo, hi
}

func formatTick(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1e5 || a < 1e-3:
		return strconv.FormatFloat(v, 'e', 1, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line is Bresenham's, two pixels thick so curves read at a glance.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// A 3x5 pixel font for labels: the standard library has no text drawing
// and labels need only lower-case letters, digits and a few marks. Each
// glyph is five rows of three bits, top row first.
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 2, 2},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'+': {0, 2, 7, 2, 0}, '_': {0, 0, 0, 0, 7}, '/': {1, 1, 2, 4, 4}, ' ': {0, 0, 0, 0, 0},
	'(': {1, 2, 2, 2, 1}, ')': {4, 2, 2, 2, 4}, ':': {0, 2, 0, 2, 0}, '%': {5, 1, 2, 4, 5},
	'a': {2, 5, 7, 5, 5}, 'b': {6, 5, 6, 5, 6}, 'c': {3, 4, 4, 4, 3}, 'd': {6, 5, 5, 5, 6},
	'e': {7, 4, 6, 4, 7}, 'f': {7, 4, 6, 4, 4}, 'g': {3, 4, 5, 5, 3}, 'h': {5, 5, 7, 5, 5},
	'i': {7, 2, 2, 2, 7}, 'j': {1, 1, 1, 5, 2}, 'k': {5, 5, 6, 5, 5}, 'l': {4, 4, 4, 4, 7},
	'm': {5, 7, 7, 5, 5}, 'n': {6, 5, 5, 5, 5}, 'o': {2, 5, 5, 5, 2}, 'p': {6, 5, 6, 4, 4},
	'q': {2, 5, 5, 6, 3}, 'r': {6, 5, 6, 5, 5}, 's': {3, 4, 2, 1, 6}, 't': {7, 2, 2, 2, 2},
	'u': {5, 5, 5, 5, 7}, 'v': {5, 5, 5, 5, 2}, 'w': {5, 5, 7, 7, 5}, 'x': {5, 5, 2, 5, 5},
	'y': {5, 5, 2, 2, 2}, 'z': {7, 1, 2, 4, 7},
}

func textWidth(s string, scale int) int { return len([]rune(s)) * 4 * scale }

func drawText(img *image.RGBA, x, y int, s string, c color.RGBA, scale int) {
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['_']
		}
		for row := range 5 {
			for col := range 3 {
				if g[row]&(4>>col) == 0 {
					continue
				}
				for dy := range scale {
					for dx := range scale {
						img.SetRGBA(x+col*scale+dx, y+row*scale+dy, c)
					}
				}
			}
		}
		x += 4 * scale
	}
}
