// Package ui is swerl's live page (swerl train/rollout --ui ADDR): a Server is an
// observe.Watcher that keeps a bounded model of the run as it goes (the current
// iteration's episodes and their phases, counts by stop reason, stragglers, the
// held-out curve, the last iterations' training numbers, and the transcripts of
// finished episodes) and an http.Handler that serves it:
//
//	/                     the page (embedded HTML, JS and CSS; it polls /api/state)
//	/api/state            the model as JSON (State)
//	/api/episode?key=K    one finished episode turn by turn (Trajectory); 404 if unknown
//	/curve.svg            the held-out curve, drawn by engine.LearningCurveSVG
//
// Memory is bounded whatever the run's length: one iteration's cells, the last 50
// iterations, 500 evaluations, and Options.MaxTrajectories transcripts.
package ui
