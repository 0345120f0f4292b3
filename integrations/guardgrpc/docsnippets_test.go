package guardgrpc_test

import (
	"context"

	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The set-ups the documentation shows (docs/guardgrpc.md, doc.go, the
// OutlivesRequest comment), compiled here line for line.

func docClientAndServer(target string) (*grpc.ClientConn, *grpc.Server, error) {
	cc, err := grpc.NewClient(target, grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor()))
	srv := grpc.NewServer(grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor()),
		grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor()))
	return cc, srv, err
}

func docWithOtelgrpc(target string) (*grpc.ClientConn, *grpc.Server, error) {
	cc, err := grpc.NewClient(target,
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor()))
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor()),
		grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor()))
	return cc, srv, err
}

func docOutlives(ctx context.Context, client healthpb.HealthClient, req *healthpb.HealthCheckRequest) (healthpb.Health_WatchClient, error) {
	stream, err := client.Watch(context.WithoutCancel(ctx), req, guardgrpc.OutlivesRequest())
	return stream, err
}

var _, _, _ = docClientAndServer, docWithOtelgrpc, docOutlives
