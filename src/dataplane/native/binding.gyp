{
  "targets": [
    {
      "target_name": "fatriot_tap",
      "sources": ["tap_addon.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
