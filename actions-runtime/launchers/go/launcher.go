// Owl's Go launcher: the `main` of a Go action, compiled at /init together with the action's own
// package main by /opt/owl/compile, which renames the function it calls (written `Main` here) to
// the capitalised `main` the user gave. The executable speaks OpenWhisk's actionloop protocol, as
// the executables of upstream's Go runtime do (openwhisk-runtime-go golang1.20/lib/launcher.go,
// behind openwhisk/executor.go and runHandler.go), so that an upstream-built `exec` and one built
// here behave alike behind Owl's proxy:
//
//   - it acknowledges once on file descriptor 3 with `{ "ok": true}` (upstream's bytes: the proxy
//     parses the line as JSON), unless the function's first result is neither a map nor a slice or
//     array: then it prints upstream's refusal on stdout and exits 1 before acknowledging;
//   - for each line on stdin (the /run body), it exports `__OW_<KEY>` for the body's string
//     fields but `value`, calls the function with `value` (an object, an array, or otherwise a nil
//     map, as upstream) and writes the result as one line of JSON (Go's encoding) on descriptor 3;
//   - a line it cannot parse, or a result encoding/json refuses, is answered with upstream's
//     `{ error: "..."}` line (not JSON: the proxy refuses it as a result that is not a dictionary
//     or array), the reason logged on stderr;
//   - a panic of the function is not recovered: the process dies, as upstream's does, and the
//     proxy answers `command exited`.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"strings"
)

func main() {
	action := reflect.ValueOf(Main)
	switch action.Type().Out(0).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
	default:
		fmt.Println("Support map and slice and array only")
		os.Exit(1)
	}

	// Never closed here: a panic runs deferred calls before it prints its trace, and a closed
	// result pipe would tell the proxy the process is gone before the trace reaches the log.
	results := os.NewFile(3, "pipe")
	fmt.Fprintf(results, "{ \"ok\": true}\n")

	in := bufio.NewReader(os.Stdin)
	for {
		// A last line without its newline is not a run (upstream's reader stops there too).
		line, err := in.ReadBytes('\n')
		if err != nil {
			if err != io.EOF {
				log.Println(err)
			}
			return
		}
		var message map[string]interface{}
		if err := json.Unmarshal(line, &message); err != nil {
			log.Println(err.Error())
			fmt.Fprintf(results, "{ error: %q}\n", err.Error())
			continue
		}
		for key, v := range message {
			if s, ok := v.(string); ok && key != "value" {
				os.Setenv("__OW_"+strings.ToUpper(key), s)
			}
		}
		// Numbers arrive as float64, as upstream decodes them.
		var argument reflect.Value
		if array, ok := message["value"].([]interface{}); ok {
			argument = reflect.ValueOf(array)
		} else {
			object, _ := message["value"].(map[string]interface{})
			argument = reflect.ValueOf(object)
		}
		// A function whose parameter does not take the argument panics here, as upstream's does.
		result := action.Call([]reflect.Value{argument})[0].Interface()
		out, err := json.Marshal(&result)
		if err != nil {
			log.Println(err.Error())
			fmt.Fprintf(results, "{ error: %q}\n", err.Error())
			continue
		}
		// encoding/json never writes a raw newline; upstream strips them all the same.
		out = bytes.ReplaceAll(out, []byte("\n"), nil)
		fmt.Fprintf(results, "%s\n", out)
	}
}
