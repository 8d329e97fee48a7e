//go:build tools

// Package tools pins the control-plane commands that scripts/control-plane.sh builds: the API
// server and controller manager the tests run, and the kubectl of the same release the kubectl
// tests drive (a client within the supported version skew of the server).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
