"""GLSL 330 sources of the PBR programs (Cook-Torrance GGX, IBL, normal maps, sheen).

:data:`FRAGMENT` is the full model (photos); :data:`FRAGMENT_LIVE` the live one (video and
stream frames on a CPU rasteriser): the same materials and lights with a cheaper BRDF, no
clearcoat lobe, and the environment's specular reflection sampled only for metals
(dielectrics take it from the SH irradiance). On llvmpipe the full model is ~3/4 of the
rasteriser's time per avatar frame.
"""

VERTEX = """
#version 330
invariant gl_Position;
uniform mat4 u_model;
uniform mat4 u_view;
uniform mat4 u_proj;
uniform mat3 u_normal_matrix;
in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
out vec3 v_world;
out vec3 v_normal;
out vec2 v_uv;
out float v_depth;
void main() {
    vec4 w = u_model * vec4(in_position, 1.0);
    vec4 c = u_view * w;
    v_world = w.xyz;
    v_normal = u_normal_matrix * in_normal;
    v_uv = in_uv;
    v_depth = -c.z;
    gl_Position = u_proj * c;
}
"""

_FRAGMENT_COMMON = """
#version 330
#define MAX_LIGHTS 8
const float PI = 3.14159265359;

uniform vec4 u_base_color;
uniform float u_metallic;
uniform float u_roughness;
uniform vec3 u_emissive;
uniform vec3 u_sheen_color;
uniform float u_sheen_roughness;
uniform float u_clearcoat;
uniform float u_clearcoat_roughness;
uniform bool u_has_base_tex;
uniform bool u_has_normal_tex;
uniform bool u_has_rough_tex;
uniform float u_normal_scale;
uniform sampler2D u_base_tex;
uniform sampler2D u_normal_tex;
uniform sampler2D u_rough_tex;

uniform vec3 u_camera;
uniform int u_n_lights;
uniform vec4 u_light_pos[MAX_LIGHTS];
uniform vec4 u_light_color[MAX_LIGHTS];
uniform bool u_has_env;
uniform sampler2D u_env;
uniform float u_env_max_lod;
uniform float u_env_intensity;
uniform vec3 u_sh[9];
uniform float u_exposure;
uniform bool u_double_sided;

in vec3 v_world;
in vec3 v_normal;
in vec2 v_uv;
in float v_depth;
layout(location = 0) out vec4 f_color;
layout(location = 1) out vec4 f_normal_depth;

vec3 srgb_to_linear(vec3 c) { return pow(c, vec3(2.2)); }

mat3 cotangent_frame(vec3 N, vec3 p, vec2 uv) {
    vec3 dp1 = dFdx(p), dp2 = dFdy(p);
    vec2 duv1 = dFdx(uv), duv2 = dFdy(uv);
    vec3 dp2perp = cross(dp2, N), dp1perp = cross(N, dp1);
    vec3 T = dp2perp * duv1.x + dp1perp * duv2.x;
    vec3 B = dp2perp * duv1.y + dp1perp * duv2.y;
    float m = max(dot(T, T), dot(B, B));
    if (m < 1e-20) return mat3(vec3(1, 0, 0), vec3(0, 1, 0), N);
    float inv = inversesqrt(m);
    return mat3(T * inv, B * inv, N);
}

float D_GGX(float NdH, float a) {
    float a2 = a * a;
    float d = NdH * NdH * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d + 1e-7);
}
float V_SmithGGX(float NdV, float NdL, float a) {
    float k = a * 0.5;
    float gv = NdV / (NdV * (1.0 - k) + k);
    float gl = NdL / (NdL * (1.0 - k) + k);
    return gv * gl / max(4.0 * NdV * NdL, 1e-4);
}
vec3 F_Schlick(float c, vec3 f0) { return f0 + (1.0 - f0) * pow(1.0 - c, 5.0); }
float D_Charlie(float NdH, float r) {
    float inv = 1.0 / max(r, 0.07);
    float s2 = 1.0 - NdH * NdH;
    return (2.0 + inv) * pow(s2, inv * 0.5) / (2.0 * PI);
}
vec3 env_brdf_approx(vec3 f0, float rough, float NdV) {
    // Karis' analytic fit of the split-sum environment BRDF.
    const vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    const vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = rough * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * NdV)) * r.x + r.y;
    vec2 ab = vec2(-1.04, 1.04) * a004 + r.zw;
    return f0 * ab.x + ab.y;
}
vec2 dir_to_equirect(vec3 d) {
    float phi = atan(d.x, -d.z);
    float theta = acos(clamp(d.y, -1.0, 1.0));
    return vec2(phi / (2.0 * PI) + 0.5, theta / PI);
}
vec3 sh_irradiance(vec3 n) {
    return u_sh[0] * 0.282095
        + u_sh[1] * 0.488603 * n.y + u_sh[2] * 0.488603 * n.z + u_sh[3] * 0.488603 * n.x
        + u_sh[4] * 1.092548 * n.x * n.y + u_sh[5] * 1.092548 * n.y * n.z
        + u_sh[6] * 0.315392 * (3.0 * n.z * n.z - 1.0) + u_sh[7] * 1.092548 * n.x * n.z
        + u_sh[8] * 0.546274 * (n.x * n.x - n.y * n.y);
}
vec3 aces(vec3 x) {
    return clamp((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
}
// Direction to light i from the shaded point, and its attenuation (w = 1: a point light of
// radius colour.w; w = 0: a directional light).
vec3 light_dir(int i, out float atten) {
    atten = 1.0;
    if (u_light_pos[i].w > 0.5) {
        vec3 d = u_light_pos[i].xyz - v_world;
        float dist = length(d);
        float r = u_light_color[i].w;
        atten = r * r / max(dist * dist, 1e-4);
        return d / dist;
    }
    return normalize(u_light_pos[i].xyz);
}

"""

_SURFACE = """
    vec4 base = u_base_color;
    if (u_has_base_tex) {
        vec4 t = texture(u_base_tex, v_uv);
        base *= vec4(srgb_to_linear(t.rgb), t.a);
    }
    float rough = u_roughness;
    if (u_has_rough_tex) rough *= texture(u_rough_tex, v_uv).g;
    rough = clamp(rough, 0.04, 1.0);
    float metal = clamp(u_metallic, 0.0, 1.0);

    vec3 V = normalize(u_camera - v_world);
    vec3 Ng = normalize(v_normal);
    if (u_double_sided && !gl_FrontFacing) Ng = -Ng;
    vec3 N = Ng;
    if (u_has_normal_tex) {
        vec3 tn = texture(u_normal_tex, v_uv).xyz * 2.0 - 1.0;
        tn.xy *= u_normal_scale;
        N = normalize(cotangent_frame(Ng, v_world, v_uv) * tn);
    }
    float NdV = clamp(abs(dot(N, V)), 1e-3, 1.0);
    vec3 f0 = mix(vec3(0.04), base.rgb, metal);
    vec3 diffuse_color = base.rgb * (1.0 - metal);
    float a = rough * rough;
"""

#: The end of both programs: emission, tone map, sRGB, premultiplied colour and normal/depth out.
_OUTPUT = """
    color += u_emissive;
    color = aces(color * u_exposure);
    color = pow(color, vec3(1.0 / 2.2));
    f_color = vec4(color * base.a, base.a);
    f_normal_depth = vec4(N, v_depth);
}
"""

FRAGMENT = _FRAGMENT_COMMON + """
void main() {""" + _SURFACE + """
    vec3 color = vec3(0.0);
    for (int i = 0; i < MAX_LIGHTS; ++i) {
        if (i >= u_n_lights) break;
        float atten;
        vec3 L = light_dir(i, atten);
        vec3 H = normalize(L + V);
        float NdL = clamp(dot(N, L), 0.0, 1.0);
        if (NdL <= 0.0) continue;
        float NdH = clamp(dot(N, H), 0.0, 1.0);
        float VdH = clamp(dot(V, H), 0.0, 1.0);
        vec3 F = F_Schlick(VdH, f0);
        vec3 spec = F * D_GGX(NdH, a) * V_SmithGGX(NdV, NdL, a);
        vec3 diff = (1.0 - F) * diffuse_color / PI;
        vec3 lo = diff + spec;
        if (u_sheen_color.r + u_sheen_color.g + u_sheen_color.b > 0.0)
            lo += u_sheen_color * D_Charlie(NdH, u_sheen_roughness) / max(4.0 * (NdL + NdV - NdL * NdV), 1e-3);
        lo *= NdL;
        if (u_clearcoat > 0.0) {
            float ac = u_clearcoat_roughness * u_clearcoat_roughness;
            float Fc = F_Schlick(VdH, vec3(0.04)).x * u_clearcoat;
            float NgdH = clamp(dot(Ng, H), 0.0, 1.0);
            lo = lo * (1.0 - Fc) + Fc * D_GGX(NgdH, ac) * V_SmithGGX(NdV, NdL, ac) * NdL;
        }
        color += lo * u_light_color[i].rgb * atten;
    }

    if (u_has_env) {
        vec3 R = reflect(-V, N);
        vec3 irr = max(sh_irradiance(N), vec3(0.0));
        vec3 spec_env = textureLod(u_env, dir_to_equirect(R), rough * u_env_max_lod).rgb;
        vec3 Fr = env_brdf_approx(f0, rough, NdV);
        vec3 amb = diffuse_color * irr + spec_env * Fr;
        amb += u_sheen_color * irr * 0.6 * (1.0 - NdV * 0.5);
        if (u_clearcoat > 0.0) {
            vec3 Rc = reflect(-V, Ng);
            float Fc = F_Schlick(clamp(dot(Ng, V), 0.0, 1.0), vec3(0.04)).x * u_clearcoat;
            amb = amb * (1.0 - Fc) + Fc * textureLod(u_env, dir_to_equirect(Rc), u_clearcoat_roughness * u_env_max_lod).rgb;
        }
        color += amb * u_env_intensity;
    }
""" + _OUTPUT

FRAGMENT_LIVE = _FRAGMENT_COMMON + """
void main() {""" + _SURFACE + """
    vec3 Fr = env_brdf_approx(f0, rough, NdV);  // split-sum fit: Fresnel and visibility in one
    vec3 irr = max(sh_irradiance(N), vec3(0.0));
    vec3 color = vec3(0.0);
    for (int i = 0; i < MAX_LIGHTS; ++i) {
        if (i >= u_n_lights) break;
        float atten;
        vec3 L = light_dir(i, atten);
        float NdL = clamp(dot(N, L), 0.0, 1.0);
        if (NdL <= 0.0) continue;
        float NdH = clamp(dot(N, normalize(L + V)), 0.0, 1.0);
        vec3 lo = diffuse_color / PI + Fr * (D_GGX(NdH, a) * 0.25);
        if (u_sheen_color.r + u_sheen_color.g + u_sheen_color.b > 0.0)
            lo += u_sheen_color * (D_Charlie(NdH, u_sheen_roughness) * 0.25);
        color += lo * NdL * u_light_color[i].rgb * atten;
    }
    if (u_has_env) {
        vec3 R = reflect(-V, N);
        vec3 spec_env = metal > 0.5 ? textureLod(u_env, dir_to_equirect(R), rough * u_env_max_lod).rgb
                                    : max(sh_irradiance(R), vec3(0.0)) / PI;
        vec3 amb = diffuse_color * irr + spec_env * Fr;
        amb += u_sheen_color * irr * 0.6 * (1.0 - NdV * 0.5);
        color += amb * u_env_intensity;
    }
""" + _OUTPUT

#: Depth-only pre-pass: fills the depth buffer so the PBR pass shades each pixel once.
DEPTH_VERTEX = """
#version 330
invariant gl_Position;
uniform mat4 u_model;
uniform mat4 u_view;
uniform mat4 u_proj;
in vec3 in_position;
void main() {
    gl_Position = u_proj * (u_view * (u_model * vec4(in_position, 1.0)));
}
"""

DEPTH_FRAGMENT = """
#version 330
void main() {}
"""
