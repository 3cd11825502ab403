package main

import (
	"context"
	"errors"
	"time"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

// go/client's version-2 API in the v2 rows: GenerateImage (the pixels
// mapped from the daemon's sealed memfd) next to the raw shared-memory
// client, and Generate with WithProgress next to the raw progress client.

// goV2 runs go/client requests for the v2 rows.
type goV2 struct {
	c   *client.Client
	ctx context.Context
}

func newGoV2(sock string) (*goV2, error) {
	c, err := client.New(client.WithSocketPath(sock))
	if err != nil {
		return nil, err
	}
	return &goV2{c: c, ctx: context.Background()}, nil
}

// image is one GenerateImage (with opts): the wall time until the image
// is ready to read (then closed), its generation time, and whether it came
// through shared memory.
func (g *goV2) image(side uint32, opts ...client.GenerateOption) (v2Outcome, error) {
	req := protocol.NewGenerateRequest(0, benchPrompt, side, side, benchSteps, benchCFG, benchSeed)
	t0 := time.Now()
	im, err := g.c.GenerateImage(g.ctx, req, opts...)
	if err != nil {
		return v2Outcome{}, err
	}
	o := v2Outcome{ready: time.Since(t0), genMS: im.GenerationTimeMS, shm: im.Shared(), imageSize: len(im.Pixels())}
	shared := im.Shared()
	if err := im.Close(); err != nil {
		return o, err
	}
	o.wall = time.Since(t0)
	if !shared {
		return o, errors.New("go/client got the pixels inline, not through shared memory")
	}
	if o.imageSize != int(side*side*3) {
		return o, errors.New("go/client image of the wrong size")
	}
	return o, nil
}

// generate is one Generate of a side x side, steps-step image, with
// progress events counted when progress is set.
func (g *goV2) generate(side, steps uint32, progress bool) (v2Outcome, error) {
	req := protocol.NewGenerateRequest(0, benchPrompt, side, side, steps, benchCFG, benchSeed)
	var o v2Outcome
	var opts []client.GenerateOption
	if progress {
		opts = append(opts, client.WithProgress(func(e client.Event) {
			switch e.Kind {
			case client.EventStep:
				o.progress++
			case client.EventQueued:
				o.queued++
			default:
				o.heartbeats++
			}
		}))
	}
	t0 := time.Now()
	resp, err := g.c.Generate(g.ctx, req, opts...)
	o.wall = time.Since(t0)
	if err != nil {
		return o, err
	}
	o.genMS = resp.GenerationTimeMS
	if len(resp.Pixels) != int(side*side*3) {
		return o, errors.New("go/client image of the wrong size")
	}
	return o, nil
}
