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

describe("core.overlay option strings #unit", function()
  it("escapes the characters overlayfs splits on", function()
    assert.equal([[\\\,\:plain]], core.overlay.escape([[\,:plain]]))
    assert.equal("lowerdir=/a:/b", core.overlay.options({ "/a", "/b" }))
    assert.has_error(function() core.overlay.options({}) end)
    assert.has_error(function() core.overlay.options({ "/a" }, "/u") end)
  end)
end)
