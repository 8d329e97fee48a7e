// Command kstatus-check prints kstatus's verdict (sigs.k8s.io/cli-utils/pkg/kstatus/status) on
// Kubernetes objects, as Flux, kpt and Config Sync compute it: one line per object,
// "<name>\t<status>\t<message>".
//
// It reads JSON from the files named as arguments, or from stdin without any: single objects,
// one after another, or lists with "items".
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus-check:", err)
		os.Exit(1)
	}
}

func run(files []string, stdin io.Reader, out io.Writer) error {
	if len(files) == 0 {
		return check("stdin", stdin, out)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = check(name, f, out)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// check prints the verdict on every object in one JSON stream.
func check(source string, in io.Reader, out io.Writer) error {
	decoder := json.NewDecoder(in)
	for {
		var raw json.RawMessage
		err := decoder.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var object map[string]any
		if err == nil {
			// Whole numbers as int64, as unstructured objects hold them (generation).
			err = utiljson.Unmarshal(raw, &object)
		}
		if err != nil {
			return fmt.Errorf("%s: not a JSON object: %w", source, err)
		}
		items, isList := object["items"].([]any)
		if !isList {
			items = []any{object}
		}
		for _, item := range items {
			fields, ok := item.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: an item is not an object", source)
			}
			u := &unstructured.Unstructured{Object: fields}
			result, err := status.Compute(u)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", source, u.GetName(), err)
			}
			fmt.Fprintf(out, "%s\t%s\t%s\n", u.GetName(), result.Status, result.Message)
		}
	}
}
