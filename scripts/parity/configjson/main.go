// Command configjson prints a trainer preset as JSON, so scripts (the
// PyTorch reference in scripts/parity) build exactly the model Go builds.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/electra-go/electra/trainer"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: configjson tiny|small|base|large")
		os.Exit(2)
	}
	c, err := trainer.Preset(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	json.NewEncoder(os.Stdout).Encode(c)
}
