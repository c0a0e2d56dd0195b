# binding.gyp - the peercred addon (src/peercred.c): SO_PEERCRED for the client's peer check.
# Built by `npm install` / `npm ci` (the install script runs node-gyp); .npmrc points node-gyp
# at the headers of the system's node (nodedir=/usr), so nothing is downloaded.
{
  "targets": [
    {
      "target_name": "peercred",
      "sources": ["src/peercred.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
