FROM nginx:1.28.0-alpine
ARG NGINX_VERSION="1.28.0"
RUN echo built for 1.26.3
