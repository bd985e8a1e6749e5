{
  "targets": [
    {
      "target_name": "wirefleet_engine",
      "sources": [
        "binding/addon.cc",
        "binding/records.cc",
        "binding/options.cc",
        "src/parse.c",
        "src/file_reader.c",
        "src/file_formats.c",
        "src/flow_table.c",
        "src/flow_meter.c",
        "src/flow_text.c",
        "src/frag_cache.c",
        "binding/capture.cc",
        "binding/capture_thread.cc",
        "binding/capture_deliver.cc",
        "src/capture.c",
        "src/pcap_backend.c",
        "src/libpcap_loader.c",
        "src/afpacket.c",
        "src/afpacket_setup.c",
        "src/bpf.c",
        "src/pcap_writer.c",
        "binding/exporter.cc",
        "src/netflow5.c",
        "src/ipfix.c",
        "src/exporter.c",
        "src/export_targets.c",
        "src/export_pacing.c",
        "binding/tango.cc",
        "src/tango.c",
        "src/tango_sig.c",
        "src/tango_window.c",
        "src/tango_node.c",
        "src/siphash.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-fvisibility=hidden"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldl"]
    }
  ]
}
