package sim_test

import (
	"context"
	"fmt"

	"github.com/swerl/swerl/sim"
)

func ExampleGenerate() {
	task := sim.Generate(sim.Easy(), 1)[0]
	fmt.Println(task.ID)
	fmt.Println(task.Statement)
	fmt.Println(task.FileNames())
	// Output:
	// sim-1-0
	// bug report : f60 is wrong . for f60 ( 1 , 9 , 4 ) i get 63 and i expect 2 . please fix it .
	// [mod0.py mod1.py]
}

func ExampleRun() {
	task := sim.Generate(sim.Easy(), 1)[0]
	ep, err := sim.Run(context.Background(), sim.Expert{}, task, 20)
	if err != nil {
		panic(err)
	}
	for _, t := range ep.Transcript.Turns() {
		fmt.Println(t.Command)
	}
	fmt.Println(ep.Stop, ep.Resolved)
	// Output:
	// run_tests
	// grep def f60 (
	// show mod1.py 3
	// fix mod1.py 4 return b - 7
	// run_tests
	// submit
	// submit true
}
