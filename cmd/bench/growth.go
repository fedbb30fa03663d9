package main

import (
	"context"
	"fmt"
	"time"
)

func init() { register("growth", benchGrowth) }

// dueInGrowth is how many reminders are due at each tick of the growth scenario.
const dueInGrowth = 100

// benchGrowth measures one dispatch tick with 100 reminders due while the
// collection grows (1k, 10k, 100k reminders, the rest due tomorrow), and an
// idle tick (none due) at each size. On MongoDB the claim is an indexed
// query, so a tick costs the same at every size; on the embedded engine
// every query but an exact _id match reads the whole collection.
func benchGrowth(ctx context.Context, env benchEnv) ([]row, error) {
	sizes := []int{1_000, 10_000, 100_000}
	if env.Quick {
		sizes = []int{1_000, 3_000}
	}
	d, _, db, closeDB, err := openDatabase(ctx, env, nil)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	fake, err := startFakeFCM(ctx)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	counter := &commandCounter{}
	ins, err := newDispatchInstances(ctx, d, 1, counter, fake.URL)
	defer disconnectAll(ins)
	if err != nil {
		return nil, err
	}
	dispatcher := ins[0].dispatcher

	now := time.Now()
	devices, err := seedPatients(ctx, db, 0, dueInGrowth, now)
	if err != nil {
		return nil, err
	}
	due := make([]string, 0, len(devices))
	for id := range devices {
		due = append(due, id)
	}
	var rows []row
	inCollection, fillers := 0, 0
	for round, size := range sizes {
		// Filler reminders of patients who need not exist: the tick never
		// reaches them, it only has to look past them.
		var filler []string
		for len(filler)*remindersPerPatient < size-inCollection-dueInGrowth {
			filler = append(filler, fmt.Sprintf("f%07d", fillers))
			fillers++
		}
		docs := dueReminders(filler, remindersPerPatient, now.Add(24*time.Hour), "g")
		docs = append(docs, dueReminders(due, 1, time.Now(), fmt.Sprintf("g%d-", round))...)
		if err := insertAll(ctx, db.Collection("reminders"), docs); err != nil {
			return nil, err
		}
		inCollection += len(docs)
		if err := fake.reset(ctx); err != nil {
			return nil, err
		}

		counter.start()
		start := time.Now()
		err := dispatcher.RunOnce(ctx, time.Now())
		busy := time.Since(start)
		busyCommands := counter.count()
		if err != nil {
			return nil, err
		}
		counter.start()
		start = time.Now()
		err = dispatcher.RunOnce(ctx, time.Now())
		idle := time.Since(start)
		idleCommands := counter.count()
		counter.stop()
		if err != nil {
			return nil, err
		}
		st, err := fake.stats(ctx, false)
		if err != nil {
			return nil, err
		}
		if st.Reminders != dueInGrowth {
			return nil, fmt.Errorf("%d reminders in the collection: %d of %d due reminders sent", inCollection, st.Reminders, dueInGrowth)
		}
		label := fmt.Sprintf("%dk in collection", inCollection/1000)
		rows = append(rows,
			row{Metric: "tick, 100 due, " + label, Value: ms(busy), Unit: "ms"},
			row{Metric: "tick DB commands, 100 due, " + label, Value: float64(busyCommands), Unit: "commands"},
			row{Metric: "idle tick, " + label, Value: ms(idle), Unit: "ms"},
			row{Metric: "idle tick DB commands, " + label, Value: float64(idleCommands), Unit: "commands"},
		)
	}
	return rows, nil
}
