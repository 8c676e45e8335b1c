package main

import (
	"bytes"
	"context"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/nats-io/nats.go/jetstream"
)

// natsMessage reads a JetStream message as a CloudEvents binary-mode
// message, the mapping of the CloudEvents NATS protocol binding: "ce-"
// headers are the attributes (extensions when the spec does not know them),
// content-type is the data's media type, the body is the data. The SDK's
// protocol/nats_jetstream/v3 module does the same; this keeps the example
// on the SDK's core module.
type natsMessage struct{ msg jetstream.Msg }

var ceSpecs = spec.WithPrefix("ce-")

var (
	_ binding.MessageReader         = natsMessage{}
	_ binding.MessageMetadataReader = natsMessage{}
)

func (m natsMessage) version() spec.Version {
	return ceSpecs.Version(m.msg.Headers().Get(ceSpecs.PrefixedSpecVersionName()))
}

// ReadEncoding says binary when the message has a ce-specversion header.
func (m natsMessage) ReadEncoding() binding.Encoding {
	if m.version() == nil {
		return binding.EncodingUnknown
	}
	return binding.EncodingBinary
}

// ReadStructured: the relay never sends structured mode.
func (m natsMessage) ReadStructured(context.Context, binding.StructuredWriter) error {
	return binding.ErrNotStructured
}

// ReadBinary hands the headers and the body to w.
func (m natsMessage) ReadBinary(_ context.Context, w binding.BinaryWriter) error {
	version := m.version()
	if version == nil {
		return binding.ErrNotBinary
	}
	for k, v := range m.msg.Headers() {
		var err error
		switch {
		case len(v) == 0:
		case strings.HasPrefix(k, "ce-") && version.Attribute(k) != nil:
			err = w.SetAttribute(version.Attribute(k), v[0])
		case strings.HasPrefix(k, "ce-"):
			err = w.SetExtension(strings.TrimPrefix(k, "ce-"), v[0])
		case k == "content-type":
			err = w.SetAttribute(version.AttributeFromKind(spec.DataContentType), v[0])
		}
		if err != nil {
			return err
		}
	}
	return w.SetData(bytes.NewReader(m.msg.Data()))
}

// GetAttribute returns the attribute of kind k and its header's value.
func (m natsMessage) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	version := m.version()
	if version == nil {
		return nil, nil
	}
	attr := version.AttributeFromKind(k)
	if attr == nil {
		return nil, nil
	}
	if v := m.msg.Headers().Get(attr.PrefixedName()); v != "" {
		return attr, v
	}
	return attr, nil
}

// GetExtension returns the value of the extension's header, if any.
func (m natsMessage) GetExtension(name string) any {
	if v := m.msg.Headers().Get("ce-" + name); v != "" {
		return v
	}
	return nil
}
