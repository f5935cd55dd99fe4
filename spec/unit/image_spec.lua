-- Option values and names of images, layers and volumes: pure functions.
local args = require "wbl.args"
local run_options = require("wbl.docker").options
local image = require "wbl.image"
local overlay = require "wbl.overlay"
local core = require "wbl.core"

describe("wbl.overlay option values #unit", function()
  it("parses -v HOST:CONTAINER[:ro|:rw]", function()
    assert.same({ host = "/h", path = "/c", ro = false, spec = "/h:/c" }, overlay.parse_volume("/h:/c"))
    assert.same({ host = "/h", path = "/c/d", ro = true, spec = "/h:/c/d:ro" }, overlay.parse_volume("/h:/c/d:ro"))
    assert.is_false(overlay.parse_volume("/h:/c:rw").ro)
    for bad, why in pairs {
      ["/h"] = "HOST:CONTAINER", ["/h:/c:rx"] = "ro or rw", ["h:/c"] = "host path must be absolute",
      ["/h:c"] = "container path must be absolute", ["/h:/"] = "over the container's /",
      ["/h://"] = "over the container's /", ["/a:/b:ro:x"] = "HOST:CONTAINER",
    } do
      local v, msg = overlay.parse_volume(bad)
      assert.is_nil(v, bad)
      assert.matches(why, msg, 1, true)
    end
  end)

  it("parses --tmpfs PATH[:OPTIONS]", function()
    assert.same({ path = "/t", data = "mode=1777", spec = "/t" }, overlay.parse_tmpfs("/t"))
    assert.same({ path = "/t", data = "size=1m,mode=700", spec = "/t:size=1m,mode=700" },
      overlay.parse_tmpfs("/t:size=1m,mode=700"))
    assert.is_nil(overlay.parse_tmpfs("t"))
    assert.is_nil(overlay.parse_tmpfs("/"))
    assert.is_nil(overlay.parse_tmpfs("/t:"))
  end)

  it("run.lua's options take -v (repeatable), --tmpfs, --image, --rm, --read-only", function()
    local o, cmd = args.parse(run_options, { "--rm", "--read-only", "-v", "/a:/b:ro", "--volume=/c:/d",
      "--tmpfs", "/t:size=1m", "--image", "busy.tar", "sh" })
    assert.is_true(o.rm)
    assert.is_true(o.read_only)
    assert.same({ "/b", "/d" }, { o.volume[1].path, o.volume[2].path })
    assert.is_true(o.volume[1].ro)
    assert.equal("size=1m", o.tmpfs[1].data)
    assert.equal("busy.tar", o.image)
    assert.same({ "sh" }, cmd)
    local none, msg = args.parse(run_options, { "--image", "bad name!", "sh" })
    assert.is_nil(none)
    assert.matches("bad image name", msg, 1, true)
    none, msg = args.parse(run_options, { "-v", "/a", "sh" })
    assert.is_nil(none)
    assert.matches("--volume /a: expected HOST:CONTAINER", msg, 1, true)
  end)
end)

describe("wbl.image names #unit", function()
  it("tells tarballs from names, and names tarballs", function()
    for _, t in ipairs { "x.tar", "./x", "/a/b.tar.gz", "b.tgz", "c.tar.xz" } do
      assert.is_true(image.is_tarball(t), t)
    end
    for _, n in ipairs { "busybox", "alpine-3.19", "my_img.v2" } do
      assert.is_false(image.is_tarball(n), n)
      assert.equal(n, image.check_name(n))
    end
    assert.equal("busybox", image.name_of("/srv/busybox.tar"))
    assert.equal("alpine", image.name_of("alpine.tar.gz"))
    assert.equal("deb", image.name_of("deb.tgz"))
    for _, bad in ipairs { "", ".hidden", "a/b", ("x"):rep(65), "sp ace" } do
      local ok, _, en = image.check_name(bad)
      assert.is_nil(ok, bad)
      assert.equal(core.errno.EINVAL, en)
    end
  end)

  it("the store is relocatable by WBL_STORE (default /var/lib/wbl)", function()
    local want = os.getenv("WBL_STORE") or "/var/lib/wbl"
    assert.equal(want, image.root())
    assert.equal(want .. "/containers/abc", image.layer_dir("abc"))
  end)
end)

describe("an image's config in the spec (wbl.docker) #unit", function()
  local docker = require "wbl.docker"
  local function spec_of(argv, cfg, extra)
    local o = assert(args.parse(run_options, extra or {}))
    return docker.spec(o, argv, "abc", cfg and { config = cfg })
  end

  it("makes the command by docker's rules for Entrypoint and Cmd", function()
    local cfg = { Entrypoint = { "/bin/app", "--serve" }, Cmd = { "--port", "80" } }
    assert.same({ "/bin/app", "--serve", "--port", "80" }, docker.command({}, {}, cfg))
    assert.same({ "/bin/app", "--serve", "-v" }, docker.command({}, { "-v" }, cfg))
    assert.same({ "sh" }, docker.command({ entrypoint = "sh" }, {}, cfg)) -- Cmd dropped
    assert.same({ "sh", "-c", "x" }, docker.command({ entrypoint = "sh" }, { "-c", "x" }, cfg))
    assert.same({ "ls" }, docker.command({ entrypoint = "" }, { "ls" }, cfg))
    assert.same({ "top" }, docker.command({}, {}, { Cmd = { "top" } }))
    assert.same({ "ls" }, docker.command({}, { "ls" }, { Cmd = { "top" } }))
    local none, msg = docker.command({ entrypoint = "" }, {}, cfg)
    assert.is_nil(none)
    assert.matches("no command given", msg, 1, true)
    assert.is_nil((docker.command({}, {}, {})))
  end)

  it("takes Env, WorkingDir, User and ExposedPorts unless the options say otherwise", function()
    local cfg = { Env = { "PATH=/opt/bin:/bin", "A=1", "HOME=/home/app" }, WorkingDir = "/app", User = "app",
                  Cmd = { "run" }, ExposedPorts = { "53/udp", "80/tcp" } }
    local s = assert(spec_of({}, cfg))
    assert.same({ "run" }, s.process.args)
    assert.equal("/app", s.process.cwd)
    assert.equal("app", s.wbl.user)
    assert.is_true(s.wbl.keep_home)
    local env = table.concat(s.process.env, " ")
    for _, kv in ipairs { "PATH=/opt/bin:/bin", "A=1", "HOME=/home/app", "HOSTNAME=abc" } do
      assert.matches(kv, env, 1, true)
    end
    assert.same({ { port = 53, proto = "udp" }, { port = 80, proto = "tcp" } }, s.wbl.exposed)
    s = assert(spec_of({ "sh" }, cfg, { "-w", "/w", "-u", "0", "-e", "A=2", "-e", "HOME=/h" }))
    assert.same({ "sh" }, s.process.args)
    assert.equal("/w", s.process.cwd)
    assert.equal("0", s.wbl.user)
    env = table.concat(s.process.env, " ")
    assert.matches("A=2", env, 1, true)
    assert.matches("HOME=/h", env, 1, true)
    assert.not_matches("A=1", env, 1, true)
    -- no image: nothing of the kind
    s = assert(spec_of({ "true" }))
    assert.equal("/", s.process.cwd)
    assert.is_nil(s.wbl.user)
    assert.matches("HOME=/root", table.concat(s.process.env, " "), 1, true)
  end)
end)

describe("image layers' whiteouts (wbl.image.whiteouts) #unit", function()
  it("leaves a layer without whiteouts as it is", function()
    local d = os.tmpname()
    os.remove(d)
    assert(core.fs.mkdir_p(d .. "/a/b"))
    assert(core.fs.write_file(d .. "/a/b/f", "x"))
    assert(image.whiteouts(d))
    assert.equal("x", core.fs.read_file(d .. "/a/b/f"))
    assert(require("wbl.util").rm_rf(d))
  end)
end)

describe("core.overlay option strings #unit", function()
  it("escapes the characters overlayfs splits on", function()
    assert.equal([[\\\,\:plain]], core.overlay.escape([[\,:plain]]))
    assert.equal("lowerdir=/a:/b", core.overlay.options({ "/a", "/b" }))
    assert.has_error(function() core.overlay.options({}) end)
    assert.has_error(function() core.overlay.options({ "/a" }, "/u") end)
  end)
end)
